#!/usr/bin/env bash
# make sweep: throughput and CPU per million spans against --batch-size and
# --concurrency (spanbench's throughput run, validating receiver, one run per
# point), written to docs/sweep.csv and drawn as docs/sweep.svg.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-bin}
SIZES=${SIZES:-"25 50 100 200 500 1000"}
CONCS=${CONCS:-"1 2 3 6"}
RUNS=${RUNS:-1}
csv=docs/sweep.csv
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
echo "batch_size,concurrency,spans_per_second,cpu_seconds_per_million,peak_rss_mib,requests" >"$tmp"
for c in $CONCS; do
    for b in $SIZES; do
        line=$("$BIN/spanbench" --bin "$BIN/spanshipper" --only throughput --runs "$RUNS" \
            --batch-size "$b" --concurrency "$c" | grep '^RESULT throughput:')
        echo "batch $b, concurrency $c: ${line#RESULT throughput: }" >&2
        echo "$line" | sed -E 's/.*median ([0-9.]+) span-end records\/s, ([0-9.]+) CPU-seconds per million spans, peak RSS ([0-9.]+) MiB.*, ([0-9]+) requests,.*/'"$b,$c"',\1,\2,\3,\4/' >>"$tmp"
    done
done
mv "$tmp" "$csv"
trap - EXIT
go run ./scripts/sweepchart "$csv" docs/sweep.svg
echo "wrote $csv and docs/sweep.svg"
