package main

import (
	"math/rand/v2"
	"strconv"
	"time"
)

// appLog appends one line of what else an agent prints on stdout, none of
// it a span: plain text, JSON logs without span keys, JSON logs with a
// trace_id but no start_time (or the reverse), blank lines, now and then
// a big one that the runtime splits.
func appLog(r *rand.Rand, dst []byte, now time.Time) []byte {
	ts := now.UTC().Format(time.RFC3339Nano)
	switch x := r.IntN(80); {
	case x < 20:
		dst = append(dst, now.UTC().Format("2006-01-02 15:04:05,000")+" INFO [worker-"...)
		dst = strconv.AppendInt(dst, int64(r.IntN(8)), 10)
		dst = append(dst, "] handled request path=/v1/chat status=200 duration_ms="...)
		dst = strconv.AppendInt(dst, int64(r.IntN(900)), 10)
	case x < 36:
		dst = append(dst, `{"level":"info","ts":"`+ts+`","logger":"agent.http","msg":"`...)
		dst = prose(r, dst, 20+r.IntN(80))
		dst = append(dst, `","status":200}`...)
	case x < 52: // trace context in a log line, as OpenTelemetry log bridges print it
		dst = append(dst, `{"level":"info","time":"`+ts+`","msg":"calling tool","trace_id":"`...)
		dst = appendHex(r, dst, 32)
		dst = append(dst, `","span_id":"`...)
		dst = appendHex(r, dst, 16)
		dst = append(dst, `"}`...)
	case x < 60:
		dst = append(dst, `{"event":"job scheduled","start_time":"`+ts+`","id":"job-`...)
		dst = strconv.AppendInt(dst, int64(r.IntN(1e6)), 10)
		dst = append(dst, `"}`...)
	case x < 66:
		// blank
	case x < 70:
		dst = append(dst, `[1,2,3]`...)
	case x < 79:
		dst = append(dst, `INFO: Uvicorn running on http://0.0.0.0:8000 (Press CTRL+C to quit)`...)
	default: // 1 in 80: a prompt dump of 20–40 KiB, with a trace_id but no start_time
		dst = append(dst, `{"level":"debug","msg":"prompt","trace_id":"`...)
		dst = appendHex(r, dst, 32)
		dst = append(dst, `","prompt":"`...)
		dst = prose(r, dst, 20<<10+r.IntN(20<<10))
		dst = append(dst, `"}`...)
	}
	return append(dst, '\n')
}

// stderrLog appends what an agent prints on stderr: warnings, multi-line
// stack traces, and when big a warning of 20–40 KiB.
func stderrLog(r *rand.Rand, dst []byte, big bool) []byte {
	if big {
		dst = append(dst, "/app/agent/context.py:88: UserWarning: context truncated: "...)
		dst = prose(r, dst, 20<<10+r.IntN(20<<10))
		return append(dst, '\n')
	}
	switch r.IntN(3) {
	case 0:
		dst = append(dst, "WARNING:httpx:retrying request to https://api.example.com/v1/chat (attempt "...)
		dst = strconv.AppendInt(dst, int64(2+r.IntN(3)), 10)
		return append(dst, "/5)\n"...)
	case 1:
		return append(dst, `Traceback (most recent call last):
  File "/app/agent/tools.py", line 42, in run
    result = await tool.invoke(args)
  File "/app/agent/tools.py", line 97, in invoke
    raise ValueError(f"bad argument: {args!r}")
ValueError: bad argument: {'query': "caf\u00e9"}
`...)
	default:
		return append(dst, "DeprecationWarning: the 'temperature' parameter is deprecated; use 'sampling'\n"...)
	}
}

func appendHex(r *rand.Rand, dst []byte, n int) []byte {
	const hex = "0123456789abcdef"
	for range n {
		dst = append(dst, hex[r.IntN(16)])
	}
	return dst
}
