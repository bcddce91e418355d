#!/usr/bin/env bash
# Instructions per request of a running server, counted by callgrind: each MODE of
# `bench-server` is started under callgrind, warmed (its page rendered and in the cache), its
# counters zeroed, loaded by wrk for SECS, and its counters dumped: the instructions of that
# window over the requests wrk completed. User space only (the kernel's share of a request is
# not counted: see "Hits across cores" in BENCHMARKS.md). Instruction counts do not depend on
# what else the machine runs, so modes and builds compare where req/s move by ±10 % between
# two runs of the same command.
#
#   bench/callgrind-server.sh [secs = 10] [connections = 8] MODE...
#   BENCH_HEADER='Accept-Encoding: gzip, deflate, br, zstd' bench/callgrind-server.sh 10 8 static-br isr-hit-html
#
# BENCH_KEEP=DIR keeps each mode's counts as DIR/MODE.callgrind (for callgrind_annotate).
# Prints one line per mode, and each mode's count against the first mode's (its instructions
# over this one's: the ratio req/s would have if user space were the whole cost). Installs
# valgrind and wrk with apt-get when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh

secs=${1:-10}
connections=${2:-8}
shift 2 || true
[ "$#" -gt 0 ] || { echo "usage: bench/callgrind-server.sh [secs] [connections] MODE..." >&2; exit 2; }
command -v valgrind >/dev/null 2>&1 || {
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null
}
bench_prepare
trap bench_cleanup EXIT
header=()
[ -n "${BENCH_HEADER:-}" ] && header=(-H "$BENCH_HEADER")

# control PID URL FLAG: sends a callgrind command to PID and wakes the server with one request
# (callgrind reads its commands only while the program runs).
control() {
    callgrind_control "$3" "$1" > /dev/null &
    local waiting=$!
    for _ in $(seq 1 50); do
        kill -0 "$waiting" 2>/dev/null || break
        curl -s -o /dev/null "${header[@]}" "$2"
        sleep 0.1
    done
    wait "$waiting"
}

port=18300
first=
for mode in "$@"; do
    port=$((port + 2))
    out="$work/$mode.callgrind"
    pin_server=(valgrind --tool=callgrind --callgrind-out-file="$out")
    bench_start "$mode" "$port" >/dev/null
    pid=${pids[-1]}
    url="http://127.0.0.1:$port/"
    # Warm: the page rendered and stored, the allocator and the connection pools grown.
    "${pin_client[@]}" wrk -t1 -c"$connections" -d2s "${header[@]}" "$url" > /dev/null
    control "$pid" "$url" -z
    requests=$("${pin_client[@]}" wrk -t1 -c"$connections" -d"${secs}s" "${header[@]}" "$url" |
        awk '/requests in/ {print $1}')
    control "$pid" "$url" -d
    instructions=$(awk '/^(summary|totals):/ {print $2; exit}' "$out".*)
    [ -n "${BENCH_KEEP:-}" ] && mkdir -p "$BENCH_KEEP" && cp "$out".1 "$BENCH_KEEP/$mode.callgrind"
    bench_stop
    per=$(awk -v i="$instructions" -v r="$requests" 'BEGIN { printf "%.0f", i / r }')
    [ -n "$first" ] || first=$per
    awk -v m="$mode" -v r="$requests" -v p="$per" -v f="$first" 'BEGIN {
        printf "%-28s %8d requests  %8d instructions per request  %.3f of the first mode\n", m, r, p, f / p
    }'
done
