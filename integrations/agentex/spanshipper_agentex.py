"""agentex tracing processors that write span events as JSON lines for spanshipper.

SpanFileProcessor (sync) and AsyncSpanFileProcessor (async) implement the agentex SDK's
SyncTracingProcessor and AsyncTracingProcessor. On span start and on span end each writes the
span as ``span.model_dump_json()`` on one line, to a file or (``path=None``) to stdout for a
Kubernetes DaemonSet that reads container logs. register() adds both to the SDK's processor
manager. spanshipper then ships the span-end records to the SGP span batch API.

Each record's data carries the fields the SDK's SGP processor adds (``_add_source_to_span``):
``__source__`` and, from the agent's environment as the SDK's EnvironmentVariables reads it,
``__acp_type__``, ``__agent_name__`` and ``__agent_id__``. The caller's span is left unchanged:
the record is written from a copy.

How lines are written:
- Every line is one ``os.write`` on an ``O_APPEND`` descriptor, so lines from threads, forked
  workers and other processes appending to the same file never interleave on a local
  filesystem (not NFS); a short write, e.g. on a full disk, is completed by further writes.
- ``max_bytes > 0`` rotates by rename, as logging.handlers.RotatingFileHandler names files:
  ``path`` becomes ``path.1``, ``path.1`` becomes ``path.2``, ... up to ``path.<backups>``,
  and a new ``path`` is created. Every process writing the file takes a shared flock on its
  directory while it checks and writes, and an exclusive one to rotate, so exactly one process
  rotates and no line lands in a file after it was renamed away. A writer reopens ``path``
  whenever the file under that name is no longer the one it holds (rotated by another process
  or by logrotate, or deleted). Let spanshipper's glob match the rotated names
  (``--path '/var/log/agents/*.jsonl*'``); the oldest backup is deleted at the next rotation,
  so keep enough backups to cover spanshipper's lag.
- Stdout: threads of one process never interleave; across forked processes sharing the pipe,
  an exclusive flock on the pipe (reopened per process through /proc/self/fd/1) keeps lines
  longer than the pipe's atomic size whole. Write stdout only through the processor: a
  ``print`` without a newline from elsewhere would run into the next span line.
- The async processor serializes the span on the event loop (so a later change to the span
  cannot leak into the record) and writes on its own thread: the event loop never waits on disk.

A write that fails (full disk, missing directory) is not raised into the agent: it is logged on
the ``spanshipper_agentex`` logger (the first at once, then at most one summary every 30 s) and
counted in ``lost_lines``.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import select
import threading
import time
import weakref
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Optional

from agentex.lib.core.tracing.processors.tracing_processor_interface import (
    AsyncTracingProcessor,
    SyncTracingProcessor,
)

__all__ = ["SpanFileProcessor", "AsyncSpanFileProcessor", "SpanFileProcessorConfig", "register"]

logger = logging.getLogger("spanshipper_agentex")

CONFIG_TYPE = "spanshipper"
"""The processor-config type register() adds to the SDK's processor manager."""

_ERROR_LOG_INTERVAL = 30.0


def _agent_fields() -> dict[str, str]:
    """The fields _add_source_to_span adds after __source__, from the agent's environment.

    EnvironmentVariables.refresh() validates the whole agent environment (AGENT_NAME and ACP_URL
    are required there); outside an agent, the three variables are read the same way directly,
    with the SDK's default for ACP_TYPE.
    """
    try:
        from agentex.lib.environment_variables import EnvironmentVariables

        env = EnvironmentVariables.refresh()
        values = (env.ACP_TYPE, env.AGENT_NAME, env.AGENT_ID)
    except Exception:
        values = (os.environ.get("ACP_TYPE", "agentic"), os.environ.get("AGENT_NAME"), os.environ.get("AGENT_ID"))
    keys = ("__acp_type__", "__agent_name__", "__agent_id__")
    return {k: v for k, v in zip(keys, values) if v is not None}


class _Records:
    """Turns spans into lines, with the data the SDK's SGP processor would send."""

    def __init__(self) -> None:
        self._fields = _agent_fields()

    def line(self, span: Any) -> bytes:
        data = span.data
        # As _add_source_to_span: null data becomes an object, an object gains the fields,
        # a list is left as it is. On a copy: the caller's span and its dict stay unchanged.
        if data is None or isinstance(data, dict):
            data = dict(data or {})
            data["__source__"] = "agentex"
            data.update(self._fields)
            span = span.model_copy(update={"data": data})
        return span.model_dump_json().encode() + b"\n"


# Every open writer, so that a fork gets each one's lock in a consistent state (the logging
# module does the same for its handlers). _registry_lock keeps the set still during a fork.
_writers: "weakref.WeakSet[_LineWriter]" = weakref.WeakSet()
_registry_lock = threading.Lock()
_forking: list = []


def _before_fork() -> None:
    _registry_lock.acquire()
    _forking[:] = list(_writers)
    for w in _forking:
        w._lock.acquire()


def _after_fork_in_parent() -> None:
    for w in _forking:
        w._lock.release()
    _forking.clear()
    _registry_lock.release()


def _after_fork_in_child() -> None:
    global _registry_lock
    for w in _forking:
        w._lock = threading.Lock()
    _forking.clear()
    _registry_lock = threading.Lock()


os.register_at_fork(before=_before_fork, after_in_parent=_after_fork_in_parent, after_in_child=_after_fork_in_child)


def _write_all(fd: int, data: bytes) -> None:
    """Writes data with one os.write, and more only if the kernel took part of it."""
    view = memoryview(data)
    while view:
        try:
            n = os.write(fd, view)
        except BlockingIOError:  # a non-blocking stdout pipe that is full
            select.select([], [fd], [])
            continue
        if n == 0:
            raise OSError("write returned 0")
        view = view[n:]


class _LineWriter:
    """Appends whole lines to a file (rotating it by size) or to stdout. Safe for threads and forks."""

    def __init__(self, path: Optional[str], max_bytes: int, backups: int) -> None:
        if max_bytes < 0 or backups < 0:
            raise ValueError("max_bytes and backups must not be negative")
        if max_bytes and path is None:
            raise ValueError("max_bytes needs a path: stdout is not rotated")
        if max_bytes and backups < 1:
            raise ValueError("rotation (max_bytes > 0) needs backups >= 1: a rotated file is kept as path.1")
        self.path = os.path.abspath(os.fspath(path)) if path is not None else None
        self.max_bytes = max_bytes
        self.backups = backups
        self.lost_lines = 0
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._fd = -1  # file mode: the descriptor on path
        self._id: tuple[int, int] = (0, 0)  # its (st_dev, st_ino)
        self._flock_fd = -1  # this process's descriptor for flock; -2: none available
        self._last_error_log = float("-inf")
        self._unreported = 0
        self._written = 0  # lines of the current write() call written so far
        with _registry_lock:
            _writers.add(self)

    def write(self, lines: list[bytes]) -> None:
        with self._lock:
            if self._pid != os.getpid():
                self._forked()
            self._written = 0
            try:
                if self.path is None:
                    self._write_stdout(lines)
                else:
                    self._write_file(lines)
            except OSError as err:
                self._close_file()  # reopened at the next write
                self._failed(err, len(lines) - self._written)

    def close(self) -> None:
        with self._lock:
            self._close_file()
            if self._flock_fd >= 0:
                os.close(self._flock_fd)
            self._flock_fd = -1

    def _forked(self) -> None:
        # The data descriptor is shared with the parent and stays usable (O_APPEND); the flock
        # descriptor is too, and a flock belongs to the open file description, so this process
        # needs its own to exclude the parent.
        if self._flock_fd >= 0:
            os.close(self._flock_fd)
        self._flock_fd = -1
        self._pid = os.getpid()

    def _write_file(self, lines: list[bytes]) -> None:
        rotating = self.max_bytes > 0
        if rotating:
            self._flock(fcntl.LOCK_SH)
        try:
            for line in lines:
                self._current()
                while rotating and self._full(len(line)):
                    # Exclusive to rotate. Taking it drops the shared lock first (flock converts
                    # non-atomically), so the file may have been rotated meanwhile: check again.
                    self._flock(fcntl.LOCK_EX)
                    self._current()
                    if self._full(len(line)):
                        self._rotate()
                    self._flock(fcntl.LOCK_SH)
                    self._current()
                _write_all(self._fd, line)
                self._written += 1
        finally:
            if rotating:
                self._flock(fcntl.LOCK_UN)

    def _write_stdout(self, lines: list[bytes]) -> None:
        fd = self._stdout_flock_fd()
        if fd >= 0:
            fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            for line in lines:
                _write_all(1, line)
                self._written += 1
        finally:
            if fd >= 0:
                fcntl.flock(fd, fcntl.LOCK_UN)

    def _stdout_flock_fd(self) -> int:
        if self._flock_fd == -1:
            try:
                # A new open file description of the same pipe (or file, or terminal), so that
                # processes sharing stdout exclude each other. Non-blocking: never waits for a
                # reader. Sockets cannot be reopened; then only threads are serialized.
                self._flock_fd = os.open("/proc/self/fd/1", os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
            except OSError:
                self._flock_fd = -2
        return self._flock_fd

    def _flock(self, op: int) -> None:
        if self._flock_fd < 0:
            self._flock_fd = os.open(os.path.dirname(self.path), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        fcntl.flock(self._flock_fd, op)

    def _current(self) -> None:
        """Makes _fd the file now named path, opening (and creating) it if needed."""
        if self._fd >= 0:
            try:
                st = os.stat(self.path)
                if (st.st_dev, st.st_ino) == self._id:
                    return
            except FileNotFoundError:
                pass
            self._close_file()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
        st = os.fstat(fd)
        self._fd, self._id = fd, (st.st_dev, st.st_ino)

    def _full(self, n: int) -> bool:
        size = os.fstat(self._fd).st_size
        return size > 0 and size + n > self.max_bytes

    def _rotate(self) -> None:
        """path.N-1 → path.N (replacing the oldest), ..., path → path.1; then a new path."""
        for i in range(self.backups - 1, 0, -1):
            try:
                os.replace(f"{self.path}.{i}", f"{self.path}.{i + 1}")
            except FileNotFoundError:
                pass
        os.replace(self.path, self.path + ".1")
        self._close_file()
        self._current()

    def _close_file(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
        self._fd = -1

    def _failed(self, err: OSError, n: int) -> None:
        self.lost_lines += n
        self._unreported += n
        now = time.monotonic()
        if now - self._last_error_log >= _ERROR_LOG_INTERVAL:
            logger.error(
                "spanshipper_agentex: cannot write span events to %s: %s (%d lost since the last report)",
                self.path or "stdout", err, self._unreported,
            )
            self._last_error_log, self._unreported = now, 0


class SpanFileProcessorConfig:
    """SpanFileProcessorConfig is the processor config register() hands to the SDK's manager."""

    type = CONFIG_TYPE

    def __init__(self, path: Optional[str] = None, max_bytes: int = 0, backups: int = 5) -> None:
        self.path, self.max_bytes, self.backups = path, max_bytes, backups


class _SpanLines:
    """What both processors share: the writer, the records, and how they are built."""

    def __init__(self, path: Optional[str] = None, max_bytes: int = 0, backups: int = 5) -> None:
        self._writer = _LineWriter(path, max_bytes, backups)
        self._records = _Records()

    @classmethod
    def from_config(cls, config: SpanFileProcessorConfig) -> Any:
        """from_config builds the processor the way the SDK's manager builds its own."""
        return cls(config.path, config.max_bytes, config.backups)

    @property
    def lost_lines(self) -> int:
        """Lines that could not be written (each one logged or counted into a logged summary)."""
        return self._writer.lost_lines


class SpanFileProcessor(_SpanLines, SyncTracingProcessor):
    """SpanFileProcessor writes each span on start and on end as one JSON line.

    Built with (path=None, max_bytes=0, backups=5): path=None writes to stdout; max_bytes=0
    never rotates; backups is how many rotated files (path.1 ... path.<backups>) are kept.
    """

    def on_span_start(self, span: Any) -> None:
        self._writer.write([self._records.line(span)])

    def on_span_end(self, span: Any) -> None:
        self._writer.write([self._records.line(span)])

    def shutdown(self) -> None:
        self._writer.close()


class AsyncSpanFileProcessor(_SpanLines, AsyncTracingProcessor):
    """AsyncSpanFileProcessor is SpanFileProcessor for the SDK's async tracing.

    Writes happen on one thread of its own, in the order they were submitted; the coroutines
    wait for them without blocking the event loop. A cancelled caller does not cancel a write.
    """

    def __init__(self, path: Optional[str] = None, max_bytes: int = 0, backups: int = 5) -> None:
        super().__init__(path, max_bytes, backups)
        self._executor: Optional[ThreadPoolExecutor] = None
        self._executor_pid = 0

    async def on_span_start(self, span: Any) -> None:
        await self._write([span])

    async def on_span_end(self, span: Any) -> None:
        await self._write([span])

    async def on_spans_start(self, spans: list[Any]) -> None:
        await self._write(spans)

    async def on_spans_end(self, spans: list[Any]) -> None:
        await self._write(spans)

    async def shutdown(self) -> None:
        if self._executor is not None and self._executor_pid == os.getpid():
            await asyncio.get_running_loop().run_in_executor(self._executor, self._writer.close)
            self._executor.shutdown(wait=False)
            self._executor = None
        else:
            self._writer.close()

    async def _write(self, spans: list[Any]) -> None:
        if not spans:
            return
        # Serialized here, on the loop: once this coroutine yields, the caller may change the span.
        lines = [self._records.line(s) for s in spans]
        await asyncio.shield(asyncio.get_running_loop().run_in_executor(self._pool(), self._writer.write, lines))

    def _pool(self) -> ThreadPoolExecutor:
        # A forked child has no copy of the parent's writer thread: it starts its own.
        if self._executor is None or self._executor_pid != os.getpid():
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="spanshipper-writer")
            self._executor_pid = os.getpid()
        return self._executor


def register(path: Optional[str] = None, **options: Any) -> None:
    """register adds a SpanFileProcessor and an AsyncSpanFileProcessor to the SDK's processor manager.

    It does so as the SDK adds its own processors: a processor-config type in the manager's
    registries, then add_tracing_processor_config, which builds one sync and one async
    processor from the config. options are max_bytes and backups. Call it once, before the
    agent starts tracing: the SDK reads its processor lists when a trace begins.
    """
    from agentex.lib.core.tracing import tracing_processor_manager as tpm

    config = SpanFileProcessorConfig(path, **options)
    manager = tpm.GLOBAL_TRACING_PROCESSOR_MANAGER
    with manager.lock:
        manager.sync_config_registry[CONFIG_TYPE] = SpanFileProcessor.from_config
        manager.async_config_registry[CONFIG_TYPE] = AsyncSpanFileProcessor.from_config
    tpm.add_tracing_processor_config(config)
