#!/usr/bin/env bash
# Runs the benchmark servers side by side on loopback and prints a Markdown table:
# req/s, p50 and p99 of each mode, each as a ratio to the physical limit (`static`), and the
# server's CPU time per request (user + system of its processes, as in bench/browser.sh).
#
#   bench/run.sh [duration-seconds] [connections] [rounds]
#
# The modes run interleaved, `rounds` times (default 3), and each figure is the median of its
# rounds, so a noisy moment on the machine moves one round, not the result.
#
# Installs wrk, nginx and varnish with apt-get when missing. The server is pinned to CPU 0 and wrk
# to CPU 1 (when the machine has two), so every mode runs under the same conditions; with
# BENCH_UNPINNED=1 neither is pinned. Every process started is
# stopped by its PID; every run is bounded by its duration.
set -euo pipefail
cd "$(dirname "$0")/.."

duration=${1:-10}
connections=${2:-32}
rounds=${3:-3}
port=${BENCH_PORT:-18080}
# The mode the ratios are taken against (BENCH_BASE, e.g. actix-static for the actix modes).
base=${BENCH_BASE:-static}
read -r -a modes <<< "${BENCH_MODES:-static nocache isr-hit isr-stale isr-miss nginx-hit varnish-hit arc-hit}"

. bench/lib.sh
bench_prepare
trap bench_cleanup EXIT
ticks_per_s=$(getconf CLK_TCK)



declare -A rps p50 p99 renders cpu
for round in $(seq 1 "$rounds"); do
  for mode in "${modes[@]}"; do
    bench_start "$mode" "$port"
    # Warm the cache (and, for isr-stale, let the page go stale: revalidate is 1 s).
    curl -s -o /dev/null "http://127.0.0.1:$port/"
    if [ "$mode" = isr-stale ]; then sleep 1.2; curl -s -o /dev/null "http://127.0.0.1:$port/"; fi
    script=()
    # The origin answers any path: no-cache gets the same unique paths as the MISS run.
    case "$mode" in isr-miss | nocache) script=(-s bench/unique.lua) ;; esac
    before=$(bench_cpu_ticks)
    "${pin_client[@]}" wrk -t1 -c"$connections" -d"${duration}s" --latency "${script[@]}" \
        "http://127.0.0.1:$port/" > "$work/$mode.wrk"
    after=$(bench_cpu_ticks)
    requests=$(awk '/requests in/ {print $1}' "$work/$mode.wrk")
    cpu[$mode]+=" $(awk -v t="$((after - before))" -v hz="$ticks_per_s" -v n="$requests" \
        'BEGIN { printf "%.2f", (n > 0 ? t / hz * 1e6 / n : 0) }')"
    rps[$mode]+=" $(awk '/^Requests\/sec/ {print $2}' "$work/$mode.wrk")"
    p50[$mode]+=" $(to_ms "$(awk '$1 == "50%" {print $2}' "$work/$mode.wrk")")"
    p99[$mode]+=" $(to_ms "$(awk '$1 == "99%" {print $2}' "$work/$mode.wrk")")"
    renders[$mode]+=" $(bench_renders)"
    bench_stop
  done
done
for mode in "${modes[@]}"; do
    rps[$mode]=$(echo "${rps[$mode]}" | median)
    p50[$mode]=$(echo "${p50[$mode]}" | median)
    p99[$mode]=$(echo "${p99[$mode]}" | median)
    renders[$mode]=$(echo "${renders[$mode]}" | median)
    cpu[$mode]=$(echo "${cpu[$mode]}" | median)
done

echo "| mode | req/s | p50 (ms) | p99 (ms) | req/s vs $base | p99 vs $base | origin renders | server CPU per request (µs) |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
for mode in "${modes[@]}"; do
    awk -v m="$mode" -v r="${rps[$mode]}" -v a="${p50[$mode]}" -v b="${p99[$mode]}" \
        -v sr="${rps[$base]:-0}" -v sb="${p99[$base]:-0}" -v n="${renders[$mode]}" -v c="${cpu[$mode]}" \
        'BEGIN { rr = sr > 0 ? sprintf("%.2f", r / sr) : "-"; pr = sb > 0 ? sprintf("%.2f", b / sb) : "-";
                 printf "| %s | %.0f | %s | %s | %s | %s | %s | %s |\n", m, r, a, b, rr, pr, n, c }'
done
echo
echo "wrk -t1 -c$connections -d${duration}s on 127.0.0.1, median of $rounds interleaved rounds; $(nproc) CPUs; server pinned: ${pin_server[*]:-no}"
