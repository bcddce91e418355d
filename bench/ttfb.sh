#!/usr/bin/env bash
# Time to first byte of a streamed MISS. `stream-nocache` sends the first 1 KB of the HTML
# article at once and the rest 200 ms later, rendering every request; `stream-isr` is the same
# origin behind IsrLayer, asked for a new path every time, so every request is a MISS whose body
# the cache tees to the visitor and into the store. curl asks each in turn (interleaved,
# sequential, a new connection each, Chrome's Accept-Encoding) and reports `time_starttransfer`
# (the first byte of the answer) and `time_total` (the last, about 200 ms later when streamed).
#
#   bench/ttfb.sh [requests per server = 50]
#
# Prints a Markdown table: median and p90 of each, in milliseconds, the difference, and the
# `x-isr-cache` answers seen. The servers are pinned to CPU 0 and curl to CPU 1 as in
# bench/run.sh (BENCH_UNPINNED=1: neither). Every process started is stopped by its PID.
set -euo pipefail
cd "$(dirname "$0")/.."

requests=${1:-50}
port=${BENCH_PORT:-18080}
accept='Accept-Encoding: gzip, deflate, br, zstd'

. bench/lib.sh
bench_prepare
trap bench_cleanup EXIT

bench_start stream-nocache "$port"
bench_start stream-isr "$((port + 2))"

id=$(date +%s)
: > "$work/stream-nocache.ttfb"
: > "$work/stream-isr.ttfb"
for i in $(seq 1 "$requests"); do
    for target in "stream-nocache $port" "stream-isr $((port + 2))"; do
        read -r mode p <<< "$target"
        "${pin_client[@]}" curl -s -H "$accept" -o /dev/null --max-time 5 \
            -w '%{time_starttransfer} %{time_total} %{size_download} %header{x-isr-cache}\n' \
            "http://127.0.0.1:$p/ttfb/$id-$i" >> "$work/$mode.ttfb"
    done
done

# quantile FILE COLUMN Q: the Q-quantile (nearest rank) of a column, seconds → milliseconds.
quantile() {
    awk -v c="$2" '{print $c * 1000}' "$1" | sort -g |
        awk -v q="$3" '{a[NR]=$1} END {i = int(q * NR + 0.999999); if (i < 1) i = 1; printf "%.3f", a[i]}'
}

echo "| mode | TTFB p50 (ms) | TTFB p90 (ms) | total p50 (ms) | body bytes | x-isr-cache |"
echo "|---|---:|---:|---:|---:|---|"
for mode in stream-nocache stream-isr; do
    f=$work/$mode.ttfb
    printf '| %s | %s | %s | %s | %s | %s |\n' "$mode" "$(quantile "$f" 1 0.5)" "$(quantile "$f" 1 0.9)" \
        "$(quantile "$f" 2 0.5)" "$(awk '{print $3}' "$f" | sort -u | tr '\n' ' ' | sed 's/ $//')" \
        "$(awk '{print ($4 == "" ? "-" : $4)}' "$f" | sort | uniq -c | awk '{printf "%s%s ×%s", (NR > 1 ? ", " : ""), $2, $1}')"
done
awk -v a="$(quantile "$work/stream-isr.ttfb" 1 0.5)" -v b="$(quantile "$work/stream-nocache.ttfb" 1 0.5)" \
    -v c="$(quantile "$work/stream-isr.ttfb" 1 0.9)" -v d="$(quantile "$work/stream-nocache.ttfb" 1 0.9)" \
    'BEGIN { printf "\nISR MISS minus uncached: %+.3f ms at p50, %+.3f ms at p90\n", a - b, c - d }'
echo "$requests sequential requests to each, interleaved, new path and connection each, on 127.0.0.1; $(nproc) CPUs; servers pinned: ${pin_server[*]:-no}"
