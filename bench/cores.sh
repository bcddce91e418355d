#!/usr/bin/env bash
# Hits across cores: the same ~8 KB article as fixed bytes (`/static`), as fixed bytes with the
# hit's nine headers (`/static-head`: the limit for the hit's answer), on HIT (`/hit`) and on
# STALE (`/stale`), served by ONE process (`bench-server same-process`), so all four share its
# threads. Measured twice: unpinned (the runtime's default worker threads, wrk -t2 sharing both
# cores with them, as a new user would run it) and pinned (server on CPU 0, wrk on CPU 1).
# Prints req/s and the server's CPU per request (user + system time of the process / requests)
# for each route, with the ratio to `/static` in the same process, median of interleaved rounds.
# Then, where `perf` is installed, two profiles in CPU time per request of each function: what
# the HIT adds to the static handler (unpinned), and what the HIT costs more unpinned than
# pinned (a function that grows with the second thread is where threads contend).
#
#   bench/cores.sh [duration-seconds = 10] [rounds = 3] [connections = 64]
#
# Installs wrk (and the harness's nginx and Varnish) with apt-get when missing; the profiles
# need `perf` and are left out without it. Every process started is stopped by its PID; every
# load is bounded by its duration.
set -euo pipefail
cd "$(dirname "$0")/.."

duration=${1:-10}
rounds=${2:-3}
connections=${3:-64}
port=${BENCH_PORT:-18080}
routes=(static static-head hit stale)

. bench/lib.sh
bench_prepare
trap bench_cleanup EXIT
ticks_per_s=$(getconf CLK_TCK)

# start PIN...: the same-process server under the pinning given (the harness's bench_start);
# the stale route is made stale (its first regeneration fails and backs off for an hour)
# before any load.
start() {
    pin_server=("$@")
    bench_start same-process "$port"
    curl -s -o /dev/null "http://127.0.0.1:$port/hit"
    curl -s -o /dev/null "http://127.0.0.1:$port/stale"
    sleep 1.2
    curl -s -o /dev/null "http://127.0.0.1:$port/stale"
    sleep 0.2
    [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/stale")" = 200 ] \
        || { echo "the stale route does not answer" >&2; exit 1; }
    curl -s -D - -o /dev/null "http://127.0.0.1:$port/stale" | grep -qi '^x-isr-cache: *STALE' \
        || { echo "the stale route is not STALE" >&2; exit 1; }
}

# load ROUTE KEY CLIENT-PIN...: one wrk window on ROUTE; appends req/s and CPU per request to
# the figures of KEY (unpinned or pinned).
declare -A rps cpu
load() {
    local route=$1 key=$2
    shift 2
    local before after requests
    before=$(bench_cpu_ticks)
    "$@" wrk -t2 -c"$connections" -d"${duration}s" "http://127.0.0.1:$port/$route" \
        > "$work/$key-$route.wrk"
    after=$(bench_cpu_ticks)
    requests=$(awk '/requests in/ {print $1}' "$work/$key-$route.wrk")
    cpu[$key-$route]+=" $(awk -v t="$((after - before))" -v hz="$ticks_per_s" -v n="$requests" \
        'BEGIN { printf "%.2f", (n > 0 ? t / hz * 1e6 / n : 0) }')"
    rps[$key-$route]+=" $(awk '/^Requests\/sec/ {print $2}' "$work/$key-$route.wrk")"
}

# profile KEY ROUTE CLIENT-PIN...: ROUTE under load once more, sampled by perf at 999 Hz for
# all but the first and last second; writes each function's CPU time per request in µs (its
# samples / 999 / the requests of the sampled window) to $work/KEY-ROUTE.prof.
profile() {
    local key=$1 route=$2
    shift 2
    "$@" wrk -t2 -c"$connections" -d"${duration}s" "http://127.0.0.1:$port/$route" \
        > "$work/$key-$route.profwrk" &
    local client=$!
    sleep 1
    perf record -q -F 999 -p "${pids[0]}" -o "$work/$key-$route.perf" -- sleep "$((duration - 2))" \
        > /dev/null 2>&1 || true
    wait "$client"
    local rate
    rate=$(awk '/^Requests\/sec/ {print $2}' "$work/$key-$route.profwrk")
    # Lines of `perf report -n`: share, samples, object, [k] or [.], the function.
    perf report -q -n -i "$work/$key-$route.perf" --no-children --sort dso,symbol --stdio \
        2>/dev/null | awk -v r="$rate" -v s="$((duration - 2))" '
            $1 ~ /%$/ && $2 ~ /^[0-9]+$/ {
                kind = ($3 == "[kernel.kallsyms]") ? "kernel" : "user"
                name = $5; for (i = 6; i <= NF; i++) name = name " " $i
                sub(/( +-)+ *$/, "", name)
                printf "%s\t%s\t%.4f\n", kind, substr(name, 1, 90), $2 / 999 / (r * s) * 1e6
            }' > "$work/$key-$route.prof"
}

# compare A B TITLE: the functions whose CPU per request grows most from profile A to B, and
# the kernel and user totals of both.
compare() {
    echo
    echo "$3"
    echo
    echo "| function | $1 (µs/request) | $2 (µs/request) | difference |"
    echo "|---|---:|---:|---:|"
    awk -F '\t' -v a="$work/$1.prof" '
        FILENAME == a { A[$2] += $3; T[$1 " A"] += $3; next }
        { B[$2] += $3; T[$1 " B"] += $3 }
        END {
            for (f in B) D[f] = B[f] - A[f]
            for (f in A) if (!(f in B)) D[f] = -A[f]
            n = 0
            for (f in D) keys[++n] = f
            # Sort by the difference, largest first (insertion sort: a few hundred names).
            for (i = 2; i <= n; i++) {
                k = keys[i]; j = i - 1
                while (j > 0 && D[keys[j]] < D[k]) { keys[j + 1] = keys[j]; j-- }
                keys[j + 1] = k
            }
            for (i = 1; i <= n && i <= 20; i++) {
                f = keys[i]
                printf "| `%s` | %.3f | %.3f | %+.3f |\n", f, A[f], B[f], D[f]
            }
            printf "| **all user space** | %.2f | %.2f | %+.2f |\n", T["user A"], T["user B"], T["user B"] - T["user A"]
            printf "| **all kernel** | %.2f | %.2f | %+.2f |\n", T["kernel A"], T["kernel B"], T["kernel B"] - T["kernel A"]
        }' "$work/$1.prof" "$work/$2.prof"
}

for round in $(seq 1 "$rounds"); do
    for key in unpinned pinned; do
        if [ "$key" = pinned ] && command -v taskset >/dev/null 2>&1 && [ "$(nproc)" -ge 2 ]; then
            server_cmd=(taskset -c 0)
            client_cmd=(taskset -c 1)
        else
            server_cmd=()
            client_cmd=()
        fi
        start "${server_cmd[@]}"
        for route in "${routes[@]}"; do
            load "$route" "$key" "${client_cmd[@]}"
        done
        if [ "$round" = "$rounds" ] && command -v perf >/dev/null 2>&1; then
            profile "$key" static "${client_cmd[@]}"
            profile "$key" hit "${client_cmd[@]}"
        fi
        bench_stop
    done
done

echo
echo "| threads | route | req/s | req/s vs static | server CPU per request (µs) | CPU vs static |"
echo "|---|---|---:|---:|---:|---:|"
for key in unpinned pinned; do
    base_rps=$(echo "${rps[$key-static]}" | median)
    base_cpu=$(echo "${cpu[$key-static]}" | median)
    for route in "${routes[@]}"; do
        r=$(echo "${rps[$key-$route]}" | median)
        c=$(echo "${cpu[$key-$route]}" | median)
        awk -v k="$key" -v m="$route" -v r="$r" -v c="$c" -v sr="$base_rps" -v sc="$base_cpu" \
            'BEGIN { printf "| %s | %s | %.0f | %.2f | %.2f | %.2f |\n", k, m, r, r / sr, c, c / sc }'
    done
done
echo
echo "one process (bench-server same-process); wrk -t2 -c$connections -d${duration}s on 127.0.0.1;" \
    "median of $rounds interleaved rounds; $(nproc) CPUs; unpinned: the runtime's default" \
    "worker threads and wrk share every core; pinned: server on CPU 0, wrk on CPU 1"
if command -v perf >/dev/null 2>&1; then
    compare unpinned-static unpinned-hit \
        "What the HIT adds to the static handler, unpinned (perf, 999 Hz, the last round):"
    compare pinned-hit unpinned-hit \
        "What the HIT costs more on two threads than on one (where threads would contend):"
else
    echo "(perf not installed: no profile)"
fi
