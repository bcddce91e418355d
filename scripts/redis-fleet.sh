#!/usr/bin/env bash
# Starts or stops a local Redis fleet for trying the store's topologies and for the fleet
# benchmark: private redis-server processes on 127.0.0.1, their files and PIDs in one directory.
#
#   scripts/redis-fleet.sh cluster  [DIR]  # 3 masters + 3 replicas on ports 7101-7106
#   scripts/redis-fleet.sh sentinel [DIR]  # primary 7201, replica 7202, sentinels 7211-7213
#   scripts/redis-fleet.sh stop     [DIR]  # stops every process started in DIR, by PID
#
# DIR defaults to target/redis-fleet. `cluster` and `sentinel` print the variables the examples
# read (ISR_REDIS_CLUSTER_NODES; ISR_REDIS_SENTINELS and ISR_REDIS_MASTER). The first ports can be
# moved with ISR_FLEET_PORT (default 7101 for a cluster, 7201 behind Sentinel).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
command="${1:-}"
dir="${2:-target/redis-fleet}"
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"

# redis-server and redis-cli, installed when missing.
ISR_REDIS_URL="${ISR_REDIS_URL:-redis://127.0.0.1:6379}" "$here/ensure-redis.sh" >/dev/null

# Starts one redis-server in the background with its PID in $dir/<port>.pid.
start_node() {
    local port="$1"
    shift
    redis-server "$@" --port "$port" --bind 127.0.0.1 --daemonize yes \
        --pidfile "$dir/$port.pid" --logfile "$dir/$port.log" --dir "$dir"
    for _ in $(seq 1 100); do
        redis-cli -p "$port" ping >/dev/null 2>&1 && return 0
        sleep 0.05
    done
    echo "redis-server on port $port did not start (see $dir/$port.log)" >&2
    return 1
}

# Waits (bounded) until `redis-cli -p PORT ARGS...` prints something matching PATTERN.
wait_for() {
    local pattern="$1" port="$2"
    shift 2
    for _ in $(seq 1 600); do
        redis-cli -p "$port" "$@" 2>/dev/null | grep -q "$pattern" && return 0
        sleep 0.1
    done
    echo "port $port: no '$pattern' from $* within 60 s" >&2
    return 1
}

case "$command" in
cluster)
    first="${ISR_FLEET_PORT:-7101}"
    ports=()
    for i in 0 1 2 3 4 5; do
        port=$((first + i))
        ports+=("$port")
        start_node "$port" --cluster-enabled yes --cluster-port $((port + 1000)) \
            --cluster-config-file "nodes-$port.conf" --cluster-node-timeout 1000 \
            --cluster-replica-validity-factor 0 --save "" --appendonly no
    done
    redis-cli --cluster create $(printf '127.0.0.1:%s ' "${ports[@]}") \
        --cluster-replicas 1 --cluster-yes >"$dir/create.log"
    for port in "${ports[@]}"; do
        wait_for "cluster_state:ok" "$port" cluster info
    done
    echo "export ISR_REDIS_CLUSTER_NODES=$(printf 'redis://127.0.0.1:%s,' "${ports[@]:0:3}" | sed 's/,$//')"
    ;;
sentinel)
    first="${ISR_FLEET_PORT:-7201}"
    primary="$first"
    replica=$((first + 1))
    start_node "$primary" --save "" --appendonly no
    start_node "$replica" --replicaof 127.0.0.1 "$primary" --save "" --appendonly no
    wait_for "master_link_status:up" "$replica" info replication
    sentinels=()
    for i in 0 1 2; do
        port=$((first + 10 + i))
        sentinels+=("$port")
        cat >"$dir/sentinel-$port.conf" <<EOF
sentinel monitor isr 127.0.0.1 $primary 2
sentinel down-after-milliseconds isr 1000
sentinel failover-timeout isr 10000
sentinel parallel-syncs isr 1
EOF
        start_node "$port" "$dir/sentinel-$port.conf" --sentinel
    done
    for port in "${sentinels[@]}"; do
        wait_for "^OK" "$port" sentinel ckquorum isr
        wait_for "flags" "$port" sentinel replicas isr
    done
    echo "export ISR_REDIS_SENTINELS=$(printf 'redis://127.0.0.1:%s,' "${sentinels[@]}" | sed 's/,$//')"
    echo "export ISR_REDIS_MASTER=isr"
    ;;
stop)
    for pidfile in "$dir"/*.pid; do
        [ -e "$pidfile" ] || continue
        pid="$(cat "$pidfile")"
        # Only a redis-server of this directory is stopped (a PID may have been reused).
        if [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q redis-server; then
            kill "$pid" 2>/dev/null || true
        fi
        rm -f "$pidfile"
    done
    rm -f "$dir"/nodes-*.conf "$dir"/sentinel-*.conf
    ;;
*)
    echo "usage: $0 cluster|sentinel|stop [DIR]" >&2
    exit 2
    ;;
esac
