#!/usr/bin/env bash
# make demo: a local receiver, 5,000 generated spans in two files, one
# spanshipper run that ships them and exits, and what the receiver holds.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-bin}
work=$(mktemp -d)
sink_pid=
cleanup() { [ -n "$sink_pid" ] && kill "$sink_pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

"$BIN/spansink" --listen 127.0.0.1:0 --addr-file "$work/addr" >"$work/sink.log" 2>&1 &
sink_pid=$!
for _ in $(seq 100); do [ -s "$work/addr" ] && break; sleep 0.05; done
addr=$(cat "$work/addr")
echo "receiver listening on $addr"

mkdir -p "$work/logs"
"$BIN/spangen" --seed 1 --spans 3000 --out "$work/logs/agent-a.jsonl"
"$BIN/spangen" --seed 2 --spans 2000 --out "$work/logs/agent-b.jsonl"
echo "generated $(cat "$work"/logs/*.jsonl | wc -l) lines ($(du -ch "$work"/logs/*.jsonl | tail -1 | cut -f1)) in $work/logs"

echo "--- spanshipper --exit-on-eof"
"$BIN/spanshipper" --path "$work/logs/*.jsonl" --endpoint "http://$addr" \
  --state-dir "$work/state" --listen 127.0.0.1:0 --exit-on-eof --log-level warn
echo "--- spanshipper status"
"$BIN/spanshipper" status --state-dir "$work/state" || true
echo "--- what the receiver holds (GET /stats)"
"$BIN/httpget" "http://$addr/stats"
echo
echo "--- one shipped span (GET /spans | head -1)"
"$BIN/httpget" "http://$addr/spans" | head -1 || true
