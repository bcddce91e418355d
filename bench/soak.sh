#!/usr/bin/env bash
# A bounded soak of the docs-site example on loopback: 10 minutes (or $1 seconds) of mixed
# traffic from 16 connections (or $2), a purge every second, a memory store capped at 64 MiB,
# and a content source failing 5 % of renders. Prints a Markdown report; stops the server it
# started by its PID.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-600}
connections=${2:-16}
port=${SOAK_PORT:-18280}
secret=soak-secret
cargo build --release -q -p docs-site -p isr-bench
log=$(mktemp)
PORT=$port REVALIDATION_SECRET=$secret DOCS_REVALIDATE=5 ISR_MAX_BYTES=$((64 * 1024 * 1024)) \
    CONTENT_FAIL_PERCENT=5 target/release/docs-site > "$log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 1 200); do
    curl -s -o /dev/null "http://127.0.0.1:$port/" && break
    sleep 0.05
done
target/release/soak "http://127.0.0.1:$port" "$seconds" "$connections" "$secret" "$pid"
