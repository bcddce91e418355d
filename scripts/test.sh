#!/usr/bin/env bash
# The whole test suite: formatting, lints, the library crates' docs and packages, every doctest
# and test of the workspace (starting Redis for the store tests if it is not running — the
# fleet tests start private Redis Cluster and Sentinel processes of their own — and
# installing Debian's Chromium and its WebDriver for the browser tests if they are missing).
# Ends with one line "N passed, N failed" counting doctests and tests together.
set -euo pipefail
cd "$(dirname "$0")/.."

# No incremental caches: the suite builds each crate once per mode, and they only take disk.
export CARGO_INCREMENTAL=0

log=$(mktemp)
trap 'rm -f "$log"' EXIT

echo "== redis (for the store tests)"
export ISR_REDIS_URL="${ISR_REDIS_URL:-redis://127.0.0.1:6379}"
./scripts/ensure-redis.sh

echo "== chromium (for the inspector's browser tests)"
./scripts/ensure-chromium.sh

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy"
cargo clippy --workspace --all-targets --all-features -- -D warnings
# The engine's optional parts compile out cleanly: no dead code without them.
cargo clippy -p isr-layer --all-targets -- -D warnings
cargo clippy -p isr-layer --all-targets --no-default-features --features fs -- -D warnings

echo "== cargo doc (rustdoc warnings, broken intra-doc links included, are errors)"
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --all-features \
    -p isr-layer -p isr-axum-macros -p isr-axum -p isr-actix-adapter

echo "== cargo package (the publishable crates, each built from its package as crates.io would)"
cargo package --allow-dirty -p isr-layer -p isr-axum-macros -p isr-axum -p isr-actix-adapter -p isr-cli
# The packages' verify builds are a second copy of every dependency; nothing later uses them.
rm -rf "${CARGO_TARGET_DIR:-target}/package"

echo "== doctests"
cargo test --workspace --all-features --doc 2>&1 | tee "$log"
doc_passed=$(grep -oE '^test result: [a-zA-Z]+\. [0-9]+ passed' "$log" | awk '{s+=$4} END {print s+0}' || true)

echo "== tests"
# Counting below must not stop the script when a pattern is absent.
set +e +o pipefail
if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --workspace --all-features --no-fail-fast 2>&1 | tee "$log"
    status=${PIPESTATUS[0]}
    passed=$(grep -oE '[0-9]+ passed' "$log" | tail -1 | awk '{print $1}')
    failed=$(grep -oE '[0-9]+ failed' "$log" | tail -1 | awk '{print $1}')
else
    cargo test --workspace --all-features --no-fail-fast --lib --bins --tests 2>&1 | tee "$log"
    status=${PIPESTATUS[0]}
    passed=$(grep -oE '^test result: [a-zA-Z]+\. [0-9]+ passed' "$log" | awk '{s+=$4} END {print s+0}' || true)
    failed=$(grep -oE '[0-9]+ failed;' "$log" | awk '{s+=$1} END {print s+0}')
fi
echo
echo "$(( ${passed:-0} + doc_passed )) passed, ${failed:-0} failed"
exit "$status"
