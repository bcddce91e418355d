#!/usr/bin/env bash
# Makes sure a Redis answers at ISR_REDIS_URL (default redis://127.0.0.1:6379) for the store
# tests: installs redis-server with apt-get when it is missing (as root), starts it when nothing
# answers. Prints PONG when Redis is up.
set -euo pipefail

url="${ISR_REDIS_URL:-redis://127.0.0.1:6379}"
if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "redis-server is not installed; install it (e.g. apt-get install redis-server)" >&2
        exit 1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server redis-tools >/dev/null
fi
if ! redis-cli -u "$url" ping >/dev/null 2>&1; then
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
    for _ in $(seq 1 50); do
        redis-cli -u "$url" ping >/dev/null 2>&1 && break
        sleep 0.1
    done
fi
redis-cli -u "$url" ping
