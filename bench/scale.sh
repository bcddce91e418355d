#!/usr/bin/env bash
# Scale: a long tail of pages, over time, then memory per entry.
#
# 1. PAGES distinct ~2 KB pages (default 1,000,000), visits Zipf-distributed (s = 1.0, then
#    s = 0.8; bench/zipf.lua), the 5 ms origin of bench-server, 256 MiB of cache each: isr-rs
#    with its memory store, isr-rs with its file store (files bounded at 256 MiB, 64 MiB of
#    copies in memory), nginx (proxy_cache max_size=256m, a 256 MiB keys zone) and Varnish
#    (-s malloc,256m). Each run lasts SECONDS, measured in windows of WINDOW seconds (wrk is
#    restarted each window with the next seed, so the sequence goes on): requests, origin
#    renders, the hit ratio of the window and since the start, and the cache's RSS at the
#    window's end. Writes bench/plots/scale.csv and draws bench/plots/scale.png (hit ratio and
#    RSS over time per system).
# 2. `target/release/scale 1000000`: the resident memory of a million cached pages, less their
#    bodies and keys, per entry; its last line, `bytes per entry: N`, is this script's last.
#
#   bench/scale.sh [seconds = 60] [pages = 1000000] [window = 10]
#
# Installs wrk, nginx, Varnish and gnuplot when missing; every process it starts is stopped by
# PID. Loopback only; each run is bounded by its time.
set -euo pipefail
cd "$(dirname "$0")/.."

secs=${1:-60}
pages=${2:-1000000}
window=${3:-10}
port=${BENCH_PORT:-18290}
. bench/lib.sh
bench_prepare
command -v gnuplot >/dev/null 2>&1 || {
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gnuplot-nox >/dev/null
}
trap bench_cleanup EXIT
ulimit -n 65536 2>/dev/null || true
export BENCH_STORE_MB=256 BENCH_NGINX_KEYS_ZONE=256m

csv=bench/plots/scale.csv
echo "system,s,second,requests,renders,window_hit_ratio,hit_ratio,rss_mib" > "$csv"
echo "Zipf over $pages pages, $secs s a run in windows of $window s, wrk -t2 -c64, 256 MiB of cache each"
echo
echo "| system | s | requests | req/s | origin renders | hit ratio | hit ratio, last window | RSS at the end (MiB) |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
for s in 1.0 0.8; do
    for system in isr isr-files nginx varnish; do
        case "$system" in
            isr) mode=isr-miss ;;
            isr-files) mode=isr-fs-hit ;;
            nginx) mode=nginx-hit ;;
            varnish) mode=varnish-hit ;;
        esac
        rm -rf "$work/files"
        BENCH_FS_DIR="$work/files" BENCH_MEMORY_MB=64 bench_start "$mode" "$port"
        case "$system" in isr*) first=0 ;; *) first=1 ;; esac
        requests=0
        renders=0
        for ((w = 1; w * window <= secs; w++)); do
            before=$(bench_renders)
            out=$("${pin_client[@]}" wrk -t2 -c64 -d"${window}s" -s bench/zipf.lua \
                "http://127.0.0.1:$port" -- "$pages" "$s" "$w")
            n=$(echo "$out" | awk '/requests in/ {print $1}')
            r=$(($(bench_renders) - before))
            requests=$((requests + n))
            renders=$((renders + r))
            rss=$(bench_rss_mib "$first")
            echo "$system,$s,$((w * window)),$n,$r,$(awk -v r="$r" -v n="$n" 'BEGIN {printf "%.3f", 1 - r / n}'),$(awk -v r="$renders" -v n="$requests" 'BEGIN {printf "%.3f", 1 - r / n}'),$rss" >> "$csv"
        done
        last=$(tail -n 1 "$csv" | cut -d, -f6)
        echo "| $system | $s | $requests | $((requests / secs)) | $((renders)) | $(awk -v r="$renders" -v n="$requests" 'BEGIN {printf "%.3f", 1 - r / n}') | $last | $rss |"
        case "$system" in
            isr-files) echo "|   (its files on disk at the end: $(du -sm --apparent-size "$work/files" | cut -f1) MiB, $(du -sm "$work/files" | cut -f1) MiB in blocks) |||||||" ;;
            nginx) echo "|   (its cache files at the end: $(du -sm --apparent-size "$work/nginx-cache" | cut -f1) MiB, $(du -sm "$work/nginx-cache" | cut -f1) MiB in blocks) |||||||" ;;
        esac
        bench_stop
    done
done

gnuplot <<EOF
set terminal pngcairo size 1200,800 font "sans,10"
set output "bench/plots/scale.png"
set datafile separator ","
set multiplot layout 2,2 title "Zipf over $pages pages, 256 MiB of cache each"
set key bottom right
set xlabel "seconds"
do for [s in "1.0 0.8"] {
    set title "hit ratio in each ${window} s window, s = ".s
    set ylabel "hit ratio"
    plot for [sys in "isr isr-files nginx varnish"] "$csv" using (strcol(1) eq sys && strcol(2) eq s ? \$3 : 1/0):6 with linespoints title sys
}
do for [s in "1.0 0.8"] {
    set title "resident memory, s = ".s
    set ylabel "MiB"
    plot for [sys in "isr isr-files nginx varnish"] "$csv" using (strcol(1) eq sys && strcol(2) eq s ? \$3 : 1/0):8 with linespoints title sys
}
unset multiplot
EOF
echo
echo "wrote $csv and bench/plots/scale.png"
echo
echo "Memory per entry, $pages pages of ~2 KB in the memory store, nothing evicted:"
target/release/scale "$pages"
