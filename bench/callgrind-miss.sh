#!/usr/bin/env bash
# Instructions the layer adds to one MISS, counted by callgrind: the same requests for new paths
# sent straight to the service and through `IsrLayer` (`miss-cost` in process, no HTTP, no
# sleep), and the difference divided by their number. Then the instructions of one HIT: the
# count of `2n` requests for one cached path less that of `n`, divided by `n` (building the
# request and reading the answer included), and the same with a browser's `Accept-Encoding`
# (`gzip, deflate, br, zstd`: every hit served from the stored Brotli bytes). Instruction
# counts do not depend on what else the machine is doing, so two builds can be compared on a
# noisy machine.
#
#   bench/callgrind-miss.sh [requests = 20000]
#
# Installs valgrind with apt-get when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
requests=${1:-20000}
command -v valgrind >/dev/null 2>&1 || {
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null
}
cargo build --release -q -p isr-bench
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# count SIDE REQUESTS: the instructions of one run of miss-cost.
count() {
    valgrind --tool=callgrind --callgrind-out-file="$work/$1.out" \
        target/release/miss-cost "$2" 1 "$1" > /dev/null 2> "$work/$1.log"
    awk '/Collected :/ {print $4}' "$work/$1.log"
}
direct=$(count direct "$requests")
isr=$(count isr "$requests")
hit=$(count hit "$requests")
hit2=$(count hit $((2 * requests)))
hitbr=$(count hit-br "$requests")
hitbr2=$(count hit-br $((2 * requests)))
awk -v d="$direct" -v i="$isr" -v h="$hit" -v h2="$hit2" -v b="$hitbr" -v b2="$hitbr2" -v n="$requests" 'BEGIN {
    printf "layer: %.0f instructions per miss (%d requests, %.0f without the layer)\n", (i - d) / n, n, d / n
    printf "hit:   %.0f instructions per hit, request and answer included\n", (h2 - h) / n
    printf "hit with a browser Accept-Encoding (Brotli served): %.0f instructions per hit\n", (b2 - b) / n
}'
