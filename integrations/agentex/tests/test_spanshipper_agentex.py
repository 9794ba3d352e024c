"""Tests of spanshipper_agentex, run against a stand-in for the agentex SDK.

The agentex SDK cannot be installed here (no PyPI), so these tests import the minimal stand-in
package in sdk_standin/agentex: it mirrors, with the same module paths and names, the SDK's
Span, its tracing processor interfaces, its processor manager, EnvironmentVariables and the SGP
processor's _add_source_to_span (see sdk_standin/agentex/__init__.py). They need pydantic
(Debian's python3-pydantic). Run:

    PYTHONPATH=sdk_standin python3 -m unittest -v        # in integrations/agentex/tests

(spanshipper's `make test` runs them through e2e/agentex_test.go.)
"""

import argparse
import asyncio
import copy
import datetime
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "sdk_standin"))
sys.path.insert(0, os.path.dirname(HERE))

# The agent's identity, as an agentex agent's environment carries it; set before the SDK's
# EnvironmentVariables.refresh() caches it.
AGENT_ENV = {"AGENT_NAME": "test-agent", "AGENT_ID": "agent-123", "ACP_TYPE": "sync", "ACP_URL": "http://localhost:8000"}
os.environ.update(AGENT_ENV)

from agentex.types.span import Span  # noqa: E402
from agentex.lib.core.tracing import tracing_processor_manager as tpm  # noqa: E402
from agentex.lib.core.tracing.processors.sgp_tracing_processor import SGPSyncTracingProcessor  # noqa: E402
from agentex.lib.core.tracing.processors.tracing_processor_interface import (  # noqa: E402
    AsyncTracingProcessor,
    SyncTracingProcessor,
)
from agentex.lib.types.tracing import SGPTracingProcessorConfig  # noqa: E402

import spanshipper_agentex  # noqa: E402
from spanshipper_agentex import AsyncSpanFileProcessor, SpanFileProcessor  # noqa: E402

import write_spans  # noqa: E402

DEADLINE = 60.0  # seconds; a generous bound for a hang, never a speed assertion


def make_span(i=0, data=None, ended=False):
    start = datetime.datetime(2026, 11, 26, 1, 2, 3, 456789, tzinfo=datetime.timezone.utc)
    return Span(
        id=f"span-{i}", trace_id="trace-1", name="llm call", parent_id="root" if i else None,
        start_time=start, end_time=start + datetime.timedelta(seconds=2) if ended else None,
        input={"messages": [{"role": "user", "content": "hi"}]}, output={"text": "hello"} if ended else None,
        data=data, task_id="task-1",
    )


def read_lines(path):
    with open(path, "rb") as f:
        return [json.loads(line) for line in f.read().splitlines()]


class RecordsTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()
        self.path = os.path.join(self.dir, "spans.jsonl")

    def test_data_is_what_the_sdk_sgp_processor_sends_and_the_span_is_unchanged(self):
        sgp = SGPSyncTracingProcessor(SGPTracingProcessorConfig(sgp_api_key="k", sgp_account_id="a"))
        cases = {
            "null": None,
            "empty": {},
            "object": {"__span_type__": "LLM", "model": "m", "nested": {"a": [1, 2]}},
            "own source": {"__source__": "mine", "__agent_name__": "other"},
            "error": {"__error__": {"type": "ValueError", "message": "bad"}},
            "list": [{"a": 1}, {"b": 2}],
        }
        proc = SpanFileProcessor(self.path)
        spans = []
        for i, (name, data) in enumerate(cases.items()):
            span = make_span(i, data, ended=True)
            before, data_obj = span.model_dump(), span.data
            proc.on_span_start(span)
            proc.on_span_end(span)
            self.assertEqual(span.model_dump(), before, f"{name}: the caller's span changed")
            self.assertIs(span.data, data_obj, f"{name}: the caller's data was replaced")
            spans.append(span)
        proc.shutdown()
        lines = read_lines(self.path)
        self.assertEqual(len(lines), 2 * len(cases))
        for (name, _), span, start, end in zip(cases.items(), spans, lines[0::2], lines[1::2]):
            with self.subTest(name):
                # What the SDK's SGP processor would send: it mutates the span, so on a copy.
                want = copy.deepcopy(span)
                sgp._add_source_to_span(want)
                self.assertEqual(end["data"], want.data)
                self.assertEqual(start["data"], want.data)
                # Every other field is the span's own serialization.
                plain = json.loads(span.model_dump_json())
                for rec in (start, end):
                    self.assertEqual({k: v for k, v in rec.items() if k != "data"}, {k: v for k, v in plain.items() if k != "data"})
        self.assertEqual(lines[0]["data"], {"__source__": "agentex", "__acp_type__": "sync", "__agent_name__": "test-agent", "__agent_id__": "agent-123"})

    def test_processors_implement_the_sdk_interfaces(self):
        self.assertIsInstance(SpanFileProcessor(self.path), SyncTracingProcessor)
        self.assertIsInstance(AsyncSpanFileProcessor(self.path), AsyncTracingProcessor)

    def test_register_adds_both_as_the_sdk_adds_its_own(self):
        n_sync, n_async = len(tpm.get_sync_tracing_processors()), len(tpm.get_async_tracing_processors())
        spanshipper_agentex.register(self.path, max_bytes=1 << 20, backups=2)
        sync_procs, async_procs = tpm.get_sync_tracing_processors(), tpm.get_async_tracing_processors()
        self.assertEqual((len(sync_procs), len(async_procs)), (n_sync + 1, n_async + 1))
        proc, aproc = sync_procs[-1], async_procs[-1]
        self.assertIsInstance(proc, SpanFileProcessor)
        self.assertIsInstance(aproc, AsyncSpanFileProcessor)
        self.assertEqual((proc._writer.path, proc._writer.max_bytes, proc._writer.backups), (self.path, 1 << 20, 2))
        # As the SDK's Trace and AsyncTrace call their processors.
        span = make_span(1)
        for p in sync_procs:
            p.on_span_start(span)

        async def async_trace():
            await asyncio.gather(*[p.on_span_start(make_span(2)) for p in async_procs])
            await aproc.shutdown()
        asyncio.run(async_trace())
        proc.shutdown()
        self.assertEqual(sorted(r["id"] for r in read_lines(self.path)), ["span-1", "span-2"])
        self.assertIn(("start", "span-1"), sync_procs[0].events)  # the SDK's default processor still runs

    def test_options_are_checked(self):
        for kwargs in ({"max_bytes": 10}, {"max_bytes": -1}):
            with self.assertRaises(ValueError):
                SpanFileProcessor(None, **kwargs)
        with self.assertRaises(ValueError):
            SpanFileProcessor(self.path, max_bytes=10, backups=0)


class FileTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()
        self.path = os.path.join(self.dir, "spans.jsonl")

    def test_rotation_keeps_backups_and_whole_lines(self):
        proc = SpanFileProcessor(self.path, max_bytes=4096, backups=2)
        for i in range(60):
            proc.on_span_end(make_span(i, {"i": i}, ended=True))
        proc.shutdown()
        self.assertEqual(sorted(os.listdir(self.dir)), ["spans.jsonl", "spans.jsonl.1", "spans.jsonl.2"])
        ids = []
        for name in ("spans.jsonl.2", "spans.jsonl.1", "spans.jsonl"):
            p = os.path.join(self.dir, name)
            self.assertLessEqual(os.path.getsize(p), 4096)
            ids += [r["id"] for r in read_lines(p)]
        # The newest lines, oldest first, none torn; older files were rotated out.
        self.assertEqual(ids, [f"span-{i}" for i in range(60 - len(ids), 60)])

    def test_forks_while_threads_write_and_rotate(self):
        # Processes forked while other threads are inside the writer (holding its lock, a flock,
        # or mid-rotation) write on at once. Raw lines through the writer, without pydantic:
        # pydantic v2's core is not safe to fork while another thread is inside it.
        proc = SpanFileProcessor(self.path, max_bytes=64 << 10, backups=10000)
        w = proc._writer
        stop, counts = threading.Event(), {}

        def line(name, i):
            return json.dumps({"id": f"{name}-{i}", "pad": "x" * (i * 37 % 6000)}).encode() + b"\n"

        def writer(k):
            i = 0
            while not stop.is_set() or i < 200:
                w.write([line(f"t{k}", i)])
                i += 1
            counts[f"t{k}"] = i

        threads = [threading.Thread(target=writer, args=(k,)) for k in range(3)]
        for t in threads:
            t.start()
        pids = []
        try:
            for j in range(6):
                pid = os.fork()
                if pid == 0:
                    try:
                        for i in range(200):
                            w.write([line(f"f{j}", i)])
                        os._exit(0 if w.lost_lines == 0 else 3)
                    finally:
                        os._exit(1)
                pids.append(pid)
                counts[f"f{j}"] = 200
            deadline = time.monotonic() + DEADLINE
            codes = {}
            while len(codes) < len(pids) and time.monotonic() < deadline:
                for pid in pids:
                    if pid not in codes:
                        done, status = os.waitpid(pid, os.WNOHANG)
                        if done == pid:
                            codes[pid] = os.waitstatus_to_exitcode(status)
                time.sleep(0.01)
        finally:
            stop.set()
            for t in threads:
                t.join()
            for pid in pids:
                if pid not in codes:
                    os.kill(pid, 9)
                    os.waitpid(pid, 0)
        self.assertEqual(len(codes), len(pids), "a forked process hung in the writer")
        self.assertEqual(set(codes.values()), {0}, "a forked process failed to write")
        got = {}
        for p in write_spans.rotated_files(self.path):
            for rec in read_lines(p):
                got[rec["id"]] = got.get(rec["id"], 0) + 1
        want = {f"{name}-{i}": 1 for name, n in counts.items() for i in range(n)}
        self.assertEqual(got, want)
        self.assertGreater(len(write_spans.rotated_files(self.path)), 10)

    def test_follows_a_file_renamed_or_deleted_by_someone_else(self):
        proc = SpanFileProcessor(self.path)
        proc.on_span_end(make_span(1, ended=True))
        os.rename(self.path, self.path + ".old")  # logrotate's rename
        proc.on_span_end(make_span(2, ended=True))
        os.unlink(self.path)
        proc.on_span_end(make_span(3, ended=True))
        proc.shutdown()
        self.assertEqual([r["id"] for r in read_lines(self.path + ".old")], ["span-1"])
        self.assertEqual([r["id"] for r in read_lines(self.path)], ["span-3"])

    def test_a_failed_write_is_logged_and_counted_not_raised(self):
        proc = SpanFileProcessor(os.path.join(self.dir, "missing", "spans.jsonl"))
        with self.assertLogs("spanshipper_agentex", "ERROR") as logs:
            proc.on_span_end(make_span(1, ended=True))
            proc.on_span_end(make_span(2, ended=True))  # within 30 s: counted, not logged again
        self.assertEqual(proc.lost_lines, 2)
        self.assertEqual(len(logs.records), 1)
        self.assertIn("missing", logs.output[0])
        os.mkdir(os.path.join(self.dir, "missing"))
        proc.on_span_end(make_span(3, ended=True))  # reopened once the directory exists
        self.assertEqual(proc.lost_lines, 2)


class StdoutTest(unittest.TestCase):
    def test_threads_and_forked_processes_share_a_pipe_without_torn_lines(self):
        # As in Kubernetes: stdout is a pipe read by the container runtime. Lines up to 40 KiB,
        # far above the pipe's atomic write size, from 3 threads and 2 forked processes.
        args = ["--stdout", "--threads", "3", "--forks", "2", "--spans", "60", "--seed", "7"]
        env = dict(os.environ, PYTHONPATH=os.path.join(HERE, "sdk_standin"))
        p = subprocess.run([sys.executable, os.path.join(HERE, "write_spans.py"), *args],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, timeout=DEADLINE)
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        ns = argparse.Namespace(path=None, threads=3, forks=2, async_tasks=0)
        summary = write_spans.verify([p.stdout], write_spans.expected(write_spans.workers(ns), 60))
        self.assertGreater(summary["max_line"], 16 << 10)


class AsyncTest(unittest.TestCase):
    def test_disk_waits_happen_off_the_event_loop(self):
        # The file is a FIFO: opening it for writing blocks until a reader opens it. The reader
        # is opened by a task on the same event loop, so it can only run if the processor's
        # open and writes do not block the loop.
        d = tempfile.mkdtemp()
        fifo = os.path.join(d, "spans.fifo")
        os.mkfifo(fifo)
        got = bytearray()

        async def scenario():
            proc = AsyncSpanFileProcessor(fifo)
            spans = [make_span(i, {"i": i}, ended=True) for i in range(20)]
            writes = asyncio.gather(proc.on_spans_end(spans[:10]), *[proc.on_span_end(s) for s in spans[10:]])
            await asyncio.sleep(0)  # the writes are under way: the writer thread is blocked in open()
            fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
            loop = asyncio.get_running_loop()
            try:
                while got.count(b"\n") < 20:
                    ready = loop.create_future()
                    loop.add_reader(fd, ready.set_result, None)
                    try:
                        await ready
                    finally:
                        loop.remove_reader(fd)
                    try:
                        got.extend(os.read(fd, 1 << 16))
                    except BlockingIOError:
                        pass
                await writes
                await proc.shutdown()
            finally:
                os.close(fd)

        result = []
        t = threading.Thread(target=lambda: result.append(asyncio.run(asyncio.wait_for(scenario(), DEADLINE))), daemon=True)
        t.start()
        t.join(DEADLINE + 5)
        if t.is_alive():
            os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # release the writer thread, so the process can exit
            self.fail("the event loop was blocked: the reader task never ran")
        self.assertEqual(len(result), 1)
        ids = sorted(json.loads(line)["id"] for line in bytes(got).splitlines())
        self.assertEqual(ids, sorted(f"span-{i}" for i in range(20)))

    def test_a_span_changed_after_the_call_is_recorded_as_it_was(self):
        d = tempfile.mkdtemp()
        path = os.path.join(d, "spans.jsonl")

        async def scenario():
            proc = AsyncSpanFileProcessor(path)
            span = make_span(1, {"step": "start"})
            pending = asyncio.ensure_future(proc.on_span_start(span))
            await asyncio.sleep(0)  # the processor has taken the span
            span.data["step"] = "changed"
            span.end_time = span.start_time
            await pending
            await proc.shutdown()

        asyncio.run(scenario())
        (rec,) = read_lines(path)
        self.assertEqual(rec["data"]["step"], "start")
        self.assertIsNone(rec["end_time"])


if __name__ == "__main__":
    unittest.main()
