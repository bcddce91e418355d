#!/usr/bin/env bash
# Browser traffic: every request carries Chrome's `Accept-Encoding: gzip, deflate, br, zstd`, for
# an ~8 KB HTML article. Runs the modes side by side on loopback and prints a Markdown table:
# req/s, p50 and p99, req/s as a ratio to the physical limit for compressed HTML (`static-br`:
# Brotli bytes made once at start-up), the encoding served and the bytes on the wire per answer,
# origin renders, and the server's CPU time per request.
#
#   bench/browser.sh [duration-seconds] [connections] [rounds]
#
# The modes run interleaved, `rounds` times (default 3), and each figure is the median of its
# rounds. The server is pinned to CPU 0 and wrk to CPU 1, as in bench/run.sh; with
# BENCH_UNPINNED=1 neither is pinned (the server's runtime then has a worker per core, and
# shares them with wrk). BENCH_WRK_THREADS sets wrk's threads (default 1).
#
# CPU per request: user + system time of the server's processes (nginx's worker, Varnish's cache
# process and the origin included), from /proc/PID/stat before and after each wrk run, over the
# requests wrk completed. Bytes on the wire: one request with the same header, body and head as
# curl counts them.
#
# Installs wrk, nginx and varnish with apt-get when missing. Every process started is stopped by
# its PID; every run is bounded by its duration.
set -euo pipefail
cd "$(dirname "$0")/.."

duration=${1:-10}
connections=${2:-32}
rounds=${3:-3}
port=${BENCH_PORT:-18080}
threads=${BENCH_WRK_THREADS:-1}
read -r -a modes <<< "${BENCH_MODES:-static-br static-gzip isr-hit-html compress-outside compress-outside-identity compress-outside-identity-br actix-isr-hit-html nginx-gzip varnish-gzip}"
accept='Accept-Encoding: gzip, deflate, br, zstd'

. bench/lib.sh
bench_prepare
trap bench_cleanup EXIT
ticks_per_s=$(getconf CLK_TCK)


declare -A rps p50 p99 renders cpu wire
for round in $(seq 1 "$rounds"); do
  for mode in "${modes[@]}"; do
    bench_start "$mode" "$port"
    # Warm the cache with the browser's header (Varnish and the ISR modes store on the first).
    for _ in 1 2 3; do curl -s -H "$accept" -o /dev/null "http://127.0.0.1:$port/"; done
    if [ -z "${wire[$mode]:-}" ]; then
        wire[$mode]=$(curl -s -H "$accept" -o /dev/null \
            -w '%{size_download} %{size_header} %header{content-encoding}' "http://127.0.0.1:$port/")
    fi
    before=$(bench_cpu_ticks)
    "${pin_client[@]}" wrk -t"$threads" -c"$connections" -d"${duration}s" --latency -H "$accept" \
        "http://127.0.0.1:$port/" > "$work/$mode.wrk"
    after=$(bench_cpu_ticks)
    requests=$(awk '/requests in/ {print $1}' "$work/$mode.wrk")
    if grep -q 'Non-2xx' "$work/$mode.wrk"; then
        echo "$mode: non-2xx answers:" >&2
        cat "$work/$mode.wrk" >&2
    fi
    rps[$mode]+=" $(awk '/^Requests\/sec/ {print $2}' "$work/$mode.wrk")"
    p50[$mode]+=" $(to_ms "$(awk '$1 == "50%" {print $2}' "$work/$mode.wrk")")"
    p99[$mode]+=" $(to_ms "$(awk '$1 == "99%" {print $2}' "$work/$mode.wrk")")"
    cpu[$mode]+=" $(awk -v t="$((after - before))" -v hz="$ticks_per_s" -v n="$requests" \
        'BEGIN { printf "%.2f", (n > 0 ? t / hz * 1e6 / n : 0) }')"
    renders[$mode]+=" $(bench_renders)"
    bench_stop
  done
done
for mode in "${modes[@]}"; do
    rps[$mode]=$(echo "${rps[$mode]}" | median)
    p50[$mode]=$(echo "${p50[$mode]}" | median)
    p99[$mode]=$(echo "${p99[$mode]}" | median)
    cpu[$mode]=$(echo "${cpu[$mode]}" | median)
    renders[$mode]=$(echo "${renders[$mode]}" | median)
done

echo "| mode | req/s | p50 (ms) | p99 (ms) | req/s vs static-br | encoding | body + head (bytes) | origin renders | server CPU per request (µs) |"
echo "|---|---:|---:|---:|---:|---|---:|---:|---:|"
for mode in "${modes[@]}"; do
    read -r body head encoding <<< "${wire[$mode]}"
    awk -v m="$mode" -v r="${rps[$mode]}" -v a="${p50[$mode]}" -v b="${p99[$mode]}" \
        -v sr="${rps[static-br]:-0}" -v n="${renders[$mode]}" -v c="${cpu[$mode]}" \
        -v e="${encoding:-identity}" -v bd="$body" -v hd="$head" \
        'BEGIN { rr = sr > 0 ? sprintf("%.2f", r / sr) : "-";
                 printf "| %s | %.0f | %s | %s | %s | %s | %d + %d | %s | %s |\n", m, r, a, b, rr, e, bd, hd, n, c }'
done
echo
echo "wrk -t$threads -c$connections -d${duration}s -H '$accept' on 127.0.0.1, median of $rounds interleaved rounds; $(nproc) CPUs; server pinned: ${pin_server[*]:-no}; wrk pinned: ${pin_client[*]:-no}"
