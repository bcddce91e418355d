#!/usr/bin/env bash
# Storms: 1,000 concurrent requests for one page, each on its own connection, and the number
# of origin renders they cause — for a stale page (past a 5 s TTL) and a cold one (never seen);
# each storm finishes well within the TTL, so a page does not go stale again during it.
# ISR must render once; nginx and Varnish are configured to do the same (see bench/peers).
# Last, two ISR instances sharing one Redis (started, or installed, by scripts/ensure-redis.sh)
# take the storm between them; their keys are deleted afterwards.
#
#   bench/storms.sh [requests = 1000]
set -euo pipefail
cd "$(dirname "$0")/.."

n=${1:-1000}
port=${BENCH_PORT:-18180}
. bench/lib.sh
bench_prepare
trap bench_cleanup EXIT
ulimit -n 65536 2>/dev/null || true
storm=target/release/storm

# storm_row LABEL COUNT URLS: waits until the page warmed up by `bench_start` is stale (past
# its 5 s TTL; nginx counts the TTL in whole seconds, so a page can stay fresh up to 6 s), then
# runs the stale and the cold storm; COUNT prints the origin renders so far, URLS turns a path
# into the storm's URL(s).
storm_row() {
    local label=$1 count=$2 urls=$3 before stale cold stale_ok cold_ok
    sleep 6.5
    before=$($count)
    stale_ok=$("$storm" "$($urls /)" "$n" | cut -d' ' -f1)
    sleep 1
    stale=$(( $($count) - before ))
    before=$($count)
    cold_ok=$("$storm" "$($urls "/cold-$RANDOM")" "$n" | cut -d' ' -f1)
    sleep 1
    cold=$(( $($count) - before ))
    echo "| $label | $stale | $cold | $stale_ok / $cold_ok |"
}
one() { echo "http://127.0.0.1:$port$1"; }

echo "| system | stale storm: renders | cold storm: renders | answered 200 (stale / cold) |"
echo "|---|---:|---:|---:|"
for mode in isr-hit nginx-hit varnish-hit; do
    bench_start "$mode" "$port" 5
    storm_row "${mode%-hit}" bench_renders one
    bench_stop
done

# Two ISR instances on one Redis, the storm split between them: one render in the cluster.
# Their keys are deleted at exit, and a Redis this script started is stopped.
export ISR_REDIS_URL="${ISR_REDIS_URL:-redis://127.0.0.1:6379}"
export BENCH_REDIS_PREFIX="isr-bench-storm-$$"
redis_was_up=$(redis-cli -u "$ISR_REDIS_URL" ping 2>/dev/null || true)
./scripts/ensure-redis.sh > /dev/null
redis_cleanup() {
    redis-cli -u "$ISR_REDIS_URL" --scan --pattern "$BENCH_REDIS_PREFIX:*" \
        | xargs -r redis-cli -u "$ISR_REDIS_URL" del > /dev/null || true
    if [ "$redis_was_up" != PONG ]; then
        redis-cli -u "$ISR_REDIS_URL" shutdown nosave > /dev/null 2>&1 || true
    fi
}
trap 'bench_cleanup; redis_cleanup' EXIT
second=$((port + 2))
bench_start isr-redis-hit "$port" 5
first_renders=$renders_url
bench_start isr-redis-hit "$second" 5
second_renders=$renders_url
both_renders() { echo $(( $(curl -s "$first_renders") + $(curl -s "$second_renders") )); }
both() { echo "http://127.0.0.1:$port$1,http://127.0.0.1:$second$1"; }
storm_row "isr, 2 instances on Redis" both_renders both
