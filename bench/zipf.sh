#!/usr/bin/env bash
# Hit ratio under a realistic workload: PAGES distinct pages (default 1,000,000), visits
# Zipf-distributed (s = 1.0, then s = 0.8; bench/zipf.lua, one seeded sequence for every
# system), a 256 MiB cache, the 5 ms origin of bench-server (~2 KB pages). For isr-rs (memory
# store capped at 256 MiB), nginx (proxy_cache max_size=256m, a keys zone of 256 MiB: room for
# about two million keys) and Varnish (-s malloc,256m) — isr-rs twice, with its default
# compression and with it off: requests, req/s, origin renders, hit
# ratio (1 - renders / requests) and the cache's RSS at the end (the origin's process left out).
#
#   bench/zipf.sh [seconds = 60] [pages = 1000000]
#
# Every process it starts is stopped by PID. Loopback only; each run is bounded by its time.
set -euo pipefail
cd "$(dirname "$0")/.."

secs=${1:-60}
pages=${2:-1000000}
port=${BENCH_PORT:-18190}
. bench/lib.sh
bench_prepare
trap bench_cleanup EXIT
ulimit -n 65536 2>/dev/null || true
export BENCH_STORE_MB=256 BENCH_NGINX_KEYS_ZONE=256m

echo "Zipf over $pages pages, $secs s a run, wrk -t2 -c64, 256 MiB of cache each"
echo
echo "| system | s | requests | req/s | origin renders | renders/s | hit ratio | RSS at the end (MiB) |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
for s in 1.0 0.8; do
    for run in isr-miss isr-miss-identity nginx-hit varnish-hit; do
        mode=${run%-identity}
        # The second isr-rs run keeps identity bodies only, as the peers do (wrk asks for no
        # encoding, so the encodings made at admission are never served here).
        if [ "$run" = isr-miss-identity ]; then export BENCH_COMPRESSION=off; else unset BENCH_COMPRESSION; fi
        bench_start "$mode" "$port"
        before=$(bench_renders)
        out=$("${pin_client[@]}" wrk -t2 -c64 -d"${secs}s" -s bench/zipf.lua \
            "http://127.0.0.1:$port" -- "$pages" "$s" 1)
        renders=$(( $(bench_renders) - before ))
        requests=$(echo "$out" | awk '/requests in/ {print $1}')
        rps=$(echo "$out" | awk '/Requests\/sec/ {printf "%d", $2}')
        case "$mode" in isr-*) first=0 ;; *) first=1 ;; esac
        rss=$(bench_rss_mib "$first")
        label=${mode%-*}
        [ "$run" = isr-miss-identity ] && label="isr (compression off)"
        echo "| $label | $s | $requests | $rps | $renders | $((renders / secs)) | $(awk -v r="$renders" -v n="$requests" 'BEGIN {printf "%.3f", 1 - r / n}') | $rss |"
        bench_stop
    done
done
