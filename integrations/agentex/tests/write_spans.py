"""Writes spans through spanshipper_agentex from threads, forked processes and an event loop at once.

Used by the tests (test_spanshipper_agentex.py and spanshipper's e2e/agentex_test.go):

    write_spans.py --path FILE [--max-bytes N --backups N] [--verify]    # a file, rotated by size
    write_spans.py --stdout                                              # stdout (a pipe, as in Kubernetes)

One SpanFileProcessor is shared by --threads threads of this process and by --forks forked
children, each writing from two threads; in file mode an AsyncSpanFileProcessor on the same
file serves --async-tasks tasks of an event loop. The children are forked after the processor
has written (worker "p0"), so they inherit its open descriptors, but before any thread starts:
pydantic v2's core holds locks of its own while it validates, and a child forked while another
thread is inside it can hang (fork with threads is unsafe for such libraries; the processor's
own locks are fork-safe, tested with raw lines in test_spanshipper_agentex.py).
Worker w writes span ids "w-0" ... "w-<spans-1>": a start line, then (except for every 40th
span, left open) an end line. Lines are 200 B to 40 KiB, sizes spread evenly on a log scale.
The span data covers what the SDK's SGP processor handles: null, an object (some with
__span_type__, some ends with an __error__ object) and a list of objects.

--verify reads the files back (FILE, FILE.1, ...) and checks every line is whole JSON and that
each expected start and end record is there exactly once; it prints a summary as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import math
import os
import random
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from agentex.types.span import Span  # noqa: E402

import spanshipper_agentex  # noqa: E402

MIN_LINE, MAX_LINE = 200, 40 << 10
OVERHEAD = 350  # the rest of a line: ids, times, data fields
OPEN_EVERY = 40  # every 40th span gets no end record


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def payload(rng: random.Random, size: int) -> str:
    # Mostly ASCII, some multi-byte text and characters JSON escapes.
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789 " * 4 + 'é€😀"\\\n\t'
    return "".join(rng.choice(alphabet) for _ in range(size // 4)) + "x" * (size - size // 4)


def spans_for(worker: str, n: int, seed: int):
    """Yields (start span, end mutation) pairs for one worker, deterministically."""
    rng = random.Random(f"{seed}/{worker}")
    for i in range(n):
        line = int(math.exp(rng.uniform(math.log(MIN_LINE), math.log(MAX_LINE))))
        # Escapes make the payload a few per cent longer in JSON: keep some room.
        size = max(0, int((line - OVERHEAD) * 0.9))
        kind = i % 4
        data = None if kind == 0 else [{"step": i}] if kind == 1 else {"n": i}
        if kind == 3:
            data["__span_type__"] = rng.choice(["LLM", "TOOL", "AGENT_WORKFLOW"])
        span = Span(
            id=f"{worker}-{i}",
            trace_id=f"trace-{worker}-{i // 10}",
            name=f"step {i}",
            parent_id=None if i % 10 == 0 else f"{worker}-{i - i % 10}",
            start_time=now(),
            input={"prompt": payload(rng, size)},
            data=data,
            task_id="task-1",
        )
        yield span, rng.random() < 0.1


def finish(span: Span, failed: bool) -> None:
    span.end_time = now()
    span.output = {"answer": "ok"}
    if failed and isinstance(span.data, dict):
        span.data = {**span.data, "__error__": {"type": "ValueError", "message": "no"}}


def sync_worker(proc, worker: str, n: int, seed: int) -> None:
    for i, (span, failed) in enumerate(spans_for(worker, n, seed)):
        proc.on_span_start(span)
        if i % OPEN_EVERY != OPEN_EVERY - 1:
            finish(span, failed)
            proc.on_span_end(span)


async def async_worker(proc, worker: str, n: int, seed: int) -> None:
    for i, (span, failed) in enumerate(spans_for(worker, n, seed)):
        await proc.on_span_start(span)
        if i % OPEN_EVERY != OPEN_EVERY - 1:
            finish(span, failed)
            await proc.on_span_end(span)


async def async_workers(path, max_bytes, backups, tasks, n, seed):
    proc = spanshipper_agentex.AsyncSpanFileProcessor(path, max_bytes, backups)
    await asyncio.gather(*(async_worker(proc, f"a{k}", n, seed) for k in range(tasks)))
    await proc.shutdown()


def workers(args) -> list[str]:
    names = ["p0"] + [f"t{k}" for k in range(args.threads)]
    names += [f"f{j}t{k}" for j in range(args.forks) for k in range(2)]
    if args.path:
        names += [f"a{k}" for k in range(args.async_tasks)]
    return names


def run(args) -> None:
    proc = spanshipper_agentex.SpanFileProcessor(args.path, args.max_bytes, args.backups)
    sync_worker(proc, "p0", args.spans, args.seed)
    children = []
    for j in range(args.forks):
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                ts = [threading.Thread(target=sync_worker, args=(proc, f"f{j}t{k}", args.spans, args.seed)) for k in range(2)]
                for t in ts:
                    t.start()
                for t in ts:
                    t.join()
                if proc.lost_lines:
                    code = 3
            except BaseException as err:  # noqa: BLE001 — report, then exit without running the parent's cleanup
                print(f"child {j}: {err!r}", file=sys.stderr)
                code = 1
            finally:
                os._exit(code)
        children.append(pid)
    threads = [threading.Thread(target=sync_worker, args=(proc, f"t{k}", args.spans, args.seed)) for k in range(args.threads)]
    if args.path and args.async_tasks:
        threads.append(threading.Thread(target=asyncio.run, args=(
            async_workers(args.path, args.max_bytes, args.backups, args.async_tasks, args.spans, args.seed),)))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    failed = [pid for pid in children if os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) != 0]
    proc.shutdown()
    if failed or proc.lost_lines:
        sys.exit(f"write_spans: {len(failed)} children failed, {proc.lost_lines} lines lost")


def expected(names: list[str], n: int) -> dict[tuple[str, str], int]:
    want = {}
    for w in names:
        for i in range(n):
            want[(f"{w}-{i}", "start")] = 1
            if i % OPEN_EVERY != OPEN_EVERY - 1:
                want[(f"{w}-{i}", "end")] = 1
    return want


def verify(chunks, want: dict[tuple[str, str], int]) -> dict:
    """Checks lines (an iterable of byte strings, each a whole file or stream) against want."""
    got: dict[tuple[str, str], int] = {}
    sizes = []
    for chunk in chunks:
        if chunk and not chunk.endswith(b"\n"):
            raise AssertionError(f"output ends inside a line: …{chunk[-80:]!r}")
        for line in chunk.splitlines():
            sizes.append(len(line) + 1)
            try:
                rec = json.loads(line)
                key = (rec["id"], "start" if rec["end_time"] is None else "end")
            except (ValueError, KeyError, TypeError) as err:
                raise AssertionError(f"torn or interleaved line ({err}): {line[:120]!r}…{line[-120:]!r}") from None
            got[key] = got.get(key, 0) + 1
    missing = sorted(k for k in want if k not in got)
    extra = sorted(k for k, c in got.items() if c != want.get(k))
    if missing or extra:
        raise AssertionError(f"{len(missing)} records missing (e.g. {missing[:3]}), {len(extra)} unexpected or repeated (e.g. {extra[:3]})")
    return {"lines": len(sizes), "bytes": sum(sizes), "min_line": min(sizes), "max_line": max(sizes)}


def rotated_files(path: str) -> list[str]:
    d, base = os.path.split(path)
    names = [n for n in os.listdir(d) if n == base or (n.startswith(base + ".") and n[len(base) + 1:].isdigit())]
    return [os.path.join(d, n) for n in sorted(names)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--path", help="file to write (default: stdout)")
    ap.add_argument("--stdout", action="store_true", help="write to stdout")
    ap.add_argument("--max-bytes", type=int, default=0)
    ap.add_argument("--backups", type=int, default=5)
    ap.add_argument("--threads", type=int, default=3)
    ap.add_argument("--forks", type=int, default=2)
    ap.add_argument("--async-tasks", type=int, default=3)
    ap.add_argument("--spans", type=int, default=100, help="spans per worker")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--verify", action="store_true", help="read the files back and check them (file mode)")
    args = ap.parse_args()
    if bool(args.path) == args.stdout:
        ap.error("give --path or --stdout")
    run(args)
    if args.verify and args.path:
        files = rotated_files(args.path)
        chunks = []
        for f in files:
            with open(f, "rb") as fh:
                chunks.append(fh.read())
        summary = verify(chunks, expected(workers(args), args.spans))
        summary["files"] = len(files)
        summary["largest_file"] = max(len(c) for c in chunks)
        print(json.dumps(summary))


if __name__ == "__main__":
    main()
