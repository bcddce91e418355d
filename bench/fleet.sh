#!/usr/bin/env bash
# The fleet: three docs-site instances on a local Redis Cluster (three masters, three replicas,
# started by scripts/redis-fleet.sh), and what BENCHMARKS.md's "A fleet on Redis Cluster"
# reports:
#
#   1. a stale and a cold storm of N requests split across the three: origin renders;
#   2. purge on one instance -> invalid on the two others, p50 / p99 / max over P purges
#      (target/release/purge-latency, in one process, on the same cluster), and on one node;
#   3. L1 hit throughput of an instance on the cluster against one on a single Redis node, in
#      the same run (wrk, 10 s each), with server CPU per request;
#   4. a master failover under load: wrk on the three instances for 14 s while purges go out
#      every 200 ms; after 4 s the master holding the site's stamps is killed. Errors, the
#      slowest answer, renders and store errors during the run.
#
#   bench/fleet.sh [requests = 1000] [purges = 1000]
#
# Every process it starts is stopped by PID at exit. Loopback only; every loop is bounded.
set -euo pipefail
cd "$(dirname "$0")/.."

n=${1:-1000}
purges=${2:-1000}
first_port=${BENCH_PORT:-18301}
. bench/lib.sh

for tool in wrk curl; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$tool" >/dev/null
    fi
done
ulimit -n 65536 2>/dev/null || true
cargo build --release -q -p docs-site -p isr-bench

work=$(mktemp -d)
fleet="$work/redis"
pids=()
cleanup() {
    bench_stop
    scripts/redis-fleet.sh stop "$fleet" >/dev/null 2>&1 || true
    [ -f "$work/single.pid" ] && kill "$(cat "$work/single.pid")" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

eval "$(scripts/redis-fleet.sh cluster "$fleet")"
# A single node of its own for the comparisons, so nothing is left in another Redis.
single_redis="redis://127.0.0.1:$((first_port + 10))"
redis-server --port $((first_port + 10)) --bind 127.0.0.1 --save "" --appendonly no \
    --daemonize yes --pidfile "$work/single.pid" --logfile "$work/single.log"
for _ in $(seq 1 100); do redis-cli -u "$single_redis" ping >/dev/null 2>&1 && break; sleep 0.05; done
ports=("$first_port" $((first_port + 1)) $((first_port + 2)))
single_port=$((first_port + 3))

# start_site PORT VAR=VALUE...: one docs-site instance with the metrics on.
start_site() {
    local port=$1
    shift
    env -u ISR_REDIS_CLUSTER_NODES PORT="$port" ISR_METRICS=1 REVALIDATION_SECRET=bench RUST_LOG=warn "$@" \
        target/release/docs-site >"$work/site-$port.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 1 200); do
        curl -sf "http://127.0.0.1:$port/" >/dev/null 2>&1 && return 0
        sleep 0.05
    done
    echo "docs-site on port $port did not start; see $work/site-$port.log" >&2
    return 1
}
for port in "${ports[@]}"; do
    start_site "$port" ISR_REDIS_CLUSTER_NODES="$ISR_REDIS_CLUSTER_NODES"
done

# metric NAME PORTS...: the sum of a Prometheus counter over the instances.
metric() {
    local name=$1 port total=0 value
    shift
    for port in "$@"; do
        value=$(curl -s "http://127.0.0.1:$port/metrics" | awk -v n="$name" '$1 == n {print $2}')
        total=$(awk -v a="$total" -v b="${value:-0}" 'BEGIN {printf "%d", a + b}')
    done
    echo "$total"
}
renders() { metric isr_renders_total "${ports[@]}"; }
purge() {
    curl -s -X POST "http://127.0.0.1:${ports[0]}/api/revalidate" -H 'x-revalidate-secret: bench' \
        -H 'content-type: application/json' -d "$1" >/dev/null
}
urls() { for port in "${ports[@]}"; do printf 'http://127.0.0.1:%s%s\n' "$port" "$1"; done | paste -sd, -; }

echo "## storms of $n requests split across three instances"
echo
echo "| storm | renders | answered 200 |"
echo "|---|---:|---:|"
for port in "${ports[@]}"; do
    curl -s "http://127.0.0.1:$port/products/red-hat" >/dev/null
    curl -s "http://127.0.0.1:$port/products/blue-sneakers" >/dev/null
done
# storm LABEL PURGE PATH: purges, then a storm on PATH split across the instances; one row.
storm() {
    local before ok
    purge "$2"
    sleep 0.5
    before=$(renders)
    ok=$(target/release/storm "$(urls "$3")" "$n" | cut -d' ' -f1)
    sleep 1
    echo "| $1 | $(( $(renders) - before )) | $ok |"
}
storm "stale (purged with mode stale, served while one regeneration runs)" \
    '{"tag": "product-red-hat", "mode": "stale"}' /products/red-hat
storm "cold (purged: every visitor waits for the one render)" \
    '{"tag": "product-blue-sneakers"}' /products/blue-sneakers
echo

echo "## purge propagation ($purges purges, three instances in one process)"
echo
echo '```'
target/release/purge-latency "$purges" 3
env -u ISR_REDIS_CLUSTER_NODES ISR_REDIS_URL="$single_redis" target/release/purge-latency "$purges" 3
echo '```'
echo

echo "## L1 hits: an instance on the cluster against one on a single Redis node"
echo
start_site "$single_port" ISR_REDIS_URL="$single_redis"
single_pid=${pids[-1]}
echo "| store | req/s, median (lowest – highest) | p99 (ms) | server CPU per request (µs) |"
echo "|---|---:|---:|---:|"
hz=$(getconf CLK_TCK)
declare -A rps_of p99_of cpu_of
# Five rounds of 5 s, the two instances in turn, so neither is measured only first; the
# medians are reported (and the spread of req/s: on two shared cores it is wide).
for round in 1 2 3 4 5; do
    for which in cluster single; do
        if [ "$which" = cluster ]; then port=${ports[0]}; pid=${pids[0]}; else port=$single_port; pid=$single_pid; fi
        url="http://127.0.0.1:$port/products/red-hat"
        curl -s "$url" >/dev/null
        wrk -t2 -c64 -d1s "$url" >/dev/null
        cpu_before=$(pids=("$pid"); bench_cpu_ticks)
        out=$(wrk -t2 -c64 -d5s --latency "$url")
        cpu_after=$(pids=("$pid"); bench_cpu_ticks)
        total=$(echo "$out" | awk '/requests in/ {print $1}')
        rps_of[$which]+="$(echo "$out" | awk '/Requests\/sec/ {printf "%d", $2}') "
        p99_of[$which]+="$(to_ms "$(echo "$out" | awk '$1 == "99%" {print $2}')") "
        cpu_of[$which]+="$(awk -v t=$((cpu_after - cpu_before)) -v hz="$hz" -v n="$total" 'BEGIN {printf "%.2f", t / hz / n * 1e6}') "
    done
done
for which in cluster single; do
    spread=$(echo "${rps_of[$which]}" | tr ' ' '\n' | grep -v '^$' | sort -n | sed -n '1p;$p' | paste -sd' ' - | awk '{print $1 " – " $2}')
    echo "| $which | $(echo "${rps_of[$which]}" | median) ($spread) | $(echo "${p99_of[$which]}" | median) | $(echo "${cpu_of[$which]}" | median) |"
done
echo

echo "## a master failover under load (14 s; the master killed after 4 s)"
echo
cat >"$work/pages.lua" <<'EOF'
local pages = {"/", "/docs/getting-started", "/products/blue-sneakers", "/products/red-hat",
  "/products/green-jacket", "/products/black-boots", "/products/white-tee", "/products/yellow-scarf"}
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", pages[(n % #pages) + 1])
end
EOF
stamps_port=$(redis-cli -p "${ISR_REDIS_CLUSTER_NODES##*:}" cluster nodes \
    | awk -v slot="$(redis-cli -p "${ISR_REDIS_CLUSTER_NODES##*:}" cluster keyslot docs-site:stamps)" \
        '$3 ~ /master/ { for (i = 9; i <= NF; i++) { split($i, r, "-"); if (r[2] == "") r[2] = r[1]; if (slot >= r[1] && slot <= r[2]) { split($2, a, "[:@]"); print a[2] } } }')
renders_before=$(renders)
errors_before=$(metric isr_store_errors_total "${ports[@]}")
loads=()
for port in "${ports[@]}"; do
    wrk -t1 -c16 -d14s --latency -s "$work/pages.lua" "http://127.0.0.1:$port" >"$work/wrk-$port.txt" &
    loads+=($!)
done
# Purges every 200 ms (bounded: 70 of them), so pages render and the store is written during
# the failover.
(for _ in $(seq 1 70); do purge '{"tag": "all-products"}'; sleep 0.2; done) &
purger=$!
sleep 4
killed_at=$(date +%s.%N)
kill -9 "$(cat "$fleet/$stamps_port.pid")"
for pid in "${loads[@]}"; do wait "$pid"; done
wait "$purger" || true
answered=0
failed=0
slowest=0
for port in "${ports[@]}"; do
    out=$(cat "$work/wrk-$port.txt")
    answered=$((answered + $(echo "$out" | awk '/requests in/ {print $1}')))
    non2xx=$(echo "$out" | awk '/Non-2xx/ {print $NF}')
    sock=$(echo "$out" | awk -F'[ ,]+' '/Socket errors/ {print $4 + $6 + $8 + $10}')
    failed=$((failed + ${non2xx:-0} + ${sock:-0}))
    max=$(to_ms "$(echo "$out" | awk '/Latency/ && !/Distribution/ {print $4; exit}')")
    slowest=$(awk -v a="$slowest" -v b="$max" 'BEGIN {print (b > a) ? b : a}')
done
survivor=$(echo "$ISR_REDIS_CLUSTER_NODES" | tr ',' '\n' | sed 's|.*:||' | grep -vx "$stamps_port" | head -1)
state=$(redis-cli -p "$survivor" cluster info | tr -d '\r' | awk -F: '$1 == "cluster_state" {print $2}')
echo "| answered | failed (non-2xx, socket errors) | slowest answer (ms) | renders | store errors |"
echo "|---:|---:|---:|---:|---:|"
echo "| $answered | $failed | $slowest | $(( $(renders) - renders_before )) | $(( $(metric isr_store_errors_total "${ports[@]}") - errors_before )) |"
echo
echo "(the master on port $stamps_port was killed at $(date -d "@$killed_at" +%T.%N | cut -c1-12); the cluster's state after the run: $state)"
