#!/usr/bin/env bash
# Runs every fuzz target for a bounded time (default 60 s each), seeded with the corpus kept in
# the repository; new inputs go to a temporary directory, crashes to fuzz/artifacts/.
#
#   fuzz/run.sh [seconds-per-target]
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`). cargo-fuzz wants a nightly compiler; on a
# stable toolchain RUSTC_BOOTSTRAP=1 lets it use the sanitizer flags.
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-60}
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
export RUSTC_BOOTSTRAP=1
for target in entry_decode canonical_path purge_body; do
    scratch=$(mktemp -d)
    echo "== $target (${seconds} s)"
    cargo fuzz run -O "$target" "$scratch" "corpus/$target" -- -max_total_time="$seconds" 2>&1 \
        | grep -E "^#[0-9]+ *DONE|Done [0-9]+ runs|SUMMARY|panicked" || true
    rm -rf "$scratch"
done
