#!/usr/bin/env bash
# Resident memory over time: `bench-server isr-miss` with its memory store capped at CAP MiB,
# driven by wrk asking for a new ~2 KB page on every request (so the cap is reached within
# seconds and eviction runs from then on). RSS is read from /proc every second.
#
#   bench/memory.sh [duration-seconds (60)] [cap-MiB (64)]
#
# BENCH_PAGE_BYTES (default 2000) sets the page size, e.g. 300 to see small entries.
#
# Writes bench/plots/rss.csv (second, RSS MiB, pages rendered so far) and draws
# bench/plots/rss.png. Installs wrk and gnuplot with apt-get when missing. The server is pinned
# to CPU 0 and wrk to CPU 1 (when the machine has two); both are stopped by their PIDs, and
# every loop is bounded by the duration.
set -euo pipefail
cd "$(dirname "$0")/.."

duration=${1:-60}
cap=${2:-64}
port=${BENCH_PORT:-18090}

missing=()
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v gnuplot >/dev/null 2>&1 || missing+=(gnuplot-nox)
if [ "${#missing[@]}" -gt 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
cargo build --release -q -p isr-bench
. bench/lib.sh
bench_pin

work=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT


BENCH_STORE_MB=$cap "${pin_server[@]}" target/release/bench-server isr-miss "$port" > "$work/server.log" 2>&1 &
server_pid=$!
pids+=("$server_pid")
for _ in $(seq 1 100); do
    curl -s -o /dev/null "http://127.0.0.1:$port/" && break
    sleep 0.1
done

"${pin_client[@]}" wrk -t1 -c32 -d"${duration}s" -s bench/unique.lua "http://127.0.0.1:$port/" > "$work/wrk.out" &
pids+=($!)

mkdir -p bench/plots
csv=bench/plots/rss.csv
echo "second,rss_mib,pages" > "$csv"
for second in $(seq 1 "$duration"); do
    sleep 1
    rss_kib=$(awk '/^VmRSS:/ {print $2}' "/proc/$server_pid/status")
    pages=$(curl -s "http://127.0.0.1:$port/__renders" || echo 0)
    awk -v s="$second" -v r="$rss_kib" -v p="$pages" 'BEGIN { printf "%d,%.1f,%s\n", s, r / 1024, p }' >> "$csv"
done
wait "${pids[1]}" 2>/dev/null || true

gnuplot <<GP
set terminal pngcairo size 900,480 noenhanced
set datafile separator ","
set key top left
set grid
set xlabel "seconds"
set ylabel "MiB"
set y2label "pages rendered (thousands)"
set y2tics
set yrange [0:*]
set output "bench/plots/rss.png"
set title "Resident memory, memory store capped at ${cap} MiB, a new ~2 KB page per request"
plot "$csv" every ::1 using 1:2 with lines linewidth 2 title "RSS (MiB)", \
     "$csv" every ::1 using 1:(\$3/1000) axes x1y2 with lines dashtype 2 title "pages rendered (k)", \
     ${cap} with lines linecolor rgb "#888888" title "cap"
GP

echo "| second | RSS (MiB) | pages rendered |"
echo "|---:|---:|---:|"
awk -F, 'NR > 1 && ($1 % 10 == 0 || $1 == 1) { printf "| %s | %s | %s |\n", $1, $2, $3 }' "$csv"
echo
echo "wrk: $(awk '/^Requests\/sec/ {print $2}' "$work/wrk.out") req/s; cap ${cap} MiB; wrote $csv and bench/plots/rss.png"
