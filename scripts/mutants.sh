#!/usr/bin/env bash
# Mutation testing of the engine, invalidation, key, filters, entry and store modules of isr-layer with
# cargo-mutants: each mutant (a changed operator, a function body replaced by a default, ...)
# is built and the isr-layer suite is run against it; a mutant the suite does not catch is a
# behaviour no test pins down. Not part of CI: it takes hours for every mutant on two cores.
#
#   scripts/mutants.sh [budget-minutes = 60] [shard = 0/1]
#   MUTANTS_WORKSPACE=1 scripts/mutants.sh ...   (the file and Redis stores, with the stores suite)
#   MUTANTS_ALL_TESTS=1 scripts/mutants.sh ...   (with the two slowest tests, see below)
#
# The run stops at the budget (whatever finished is reported); `shard k/n` tests every n-th
# mutant only, for a sample of a known size. Results go to `mutants.out/` (caught.txt,
# missed.txt, timeout.txt, unviable.txt), and the last line printed is the score:
# `caught / (caught + missed)` of the mutants that built and finished.
# Installs cargo-mutants when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

budget_minutes=${1:-60}
shard=${2:-0/1}

if ! cargo mutants --version >/dev/null 2>&1; then
    cargo install cargo-mutants --locked
fi
# Every mutant is linked again into each of the suite's test binaries: mold links them in a
# fraction of the time of the default linker, and the `mutants` profile builds without debug
# info.
if ! command -v mold >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mold >/dev/null 2>&1 || true
fi
if command -v mold >/dev/null 2>&1; then
    export RUSTFLAGS="${RUSTFLAGS:-} -C link-arg=-fuse-ld=mold"
fi
./scripts/ensure-redis.sh

# The file and Redis stores are tested by isr-layer's unit tests and by the workspace's stores
# suite (`tests/tests/stores.rs`: two instances on one directory, a Redis node, a cluster and
# Sentinel), so their mutants (`MUTANTS_WORKSPACE=1`) run those two: about three minutes a
# mutant, the suite's processes and the crates above isr-layer built again each time. The
# other modules are tested by isr-layer's own suite.
files=(
    -f 'isr-layer/src/engine/*.rs'
    -f isr-layer/src/invalidate.rs
    -f isr-layer/src/key.rs
    -f isr-layer/src/filters.rs
    -f isr-layer/src/entry.rs
    -f isr-layer/src/head.rs
    -f isr-layer/src/intern.rs
    -f isr-layer/src/store/codec.rs
    -f isr-layer/src/store/invalidation_log.rs
    -f isr-layer/src/store/lock.rs
    -f isr-layer/src/store/memory.rs
    -f isr-layer/src/store/mod.rs
)
scope=(--test-workspace=false)
if [ "${MUTANTS_WORKSPACE:-0}" = 1 ]; then
    files=(-f isr-layer/src/store/fs.rs -f 'isr-layer/src/store/redis/*.rs')
    # cargo-mutants tests its baseline (the unmutated tree) with the mutated package's tests
    # only, which cannot take `--test stores`: the baseline is skipped (the suite passes on the
    # unmutated tree in CI) and each mutant keeps the fixed time limit below.
    scope=(--test-package isr-layer --test-package isr-tests --baseline skip)
fi

# The two slowest tests of isr-layer's suite (a tag purge over 100,000 pages, 20 s in a debug
# build, and Brotli's reused encoder state, 9 s) are most of its 23 s: they are left out of
# each mutant's run unless MUTANTS_ALL_TESTS=1 (about 15 s a mutant instead of 35). A mutant
# only they would catch then shows as missed: check a missed mutant of the tag clock or of
# `engine/encode.rs` again with them before counting it.
filter=(--)
if [ "${MUTANTS_WORKSPACE:-0}" = 1 ]; then
    filter+=(--lib --test stores)
fi
if [ "${MUTANTS_ALL_TESTS:-0}" != 1 ]; then
    filter+=(-E 'not (test(invalidating_a_tag_on_100k_pages_touches_none_of_them) | test(reused_encoder_state_never_leaks_into_the_next_page))')
fi

set +e
timeout --signal=INT "$((budget_minutes * 60))" cargo mutants \
    --package isr-layer --all-features --test-tool nextest --profile mutants "${scope[@]}" \
    --shard "$shard" --sharding round-robin --timeout 300 \
    "${files[@]}" "${filter[@]}"
status=$?
set -e
[ "$status" -eq 124 ] && echo "stopped at the budget of ${budget_minutes} min; the figures cover what finished"

count() {
    local n=0
    [ -f "mutants.out/$1" ] && n=$(grep -c . "mutants.out/$1" || true)
    echo "${n:-0}"
}
caught=$(count caught.txt)
missed=$(count missed.txt)
timeouts=$(count timeout.txt)
unviable=$(count unviable.txt)
echo "caught $caught, missed $missed, timed out $timeouts, unviable $unviable"
if [ $((caught + missed)) -gt 0 ]; then
    awk -v c="$caught" -v m="$missed" 'BEGIN { printf "mutation score: %.1f %% (%d of %d viable mutants caught)\n", 100 * c / (c + m), c, c + m }'
fi
