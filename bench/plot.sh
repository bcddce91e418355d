#!/usr/bin/env bash
# Draws the throughput and p99 of each system from a bench/run.sh table (Markdown on stdin or
# in $1) into bench/plots/throughput.png and bench/plots/p99.png. Installs gnuplot when missing.
#
#   bench/run.sh 10 32 3 | tee /tmp/run.md && bench/plot.sh /tmp/run.md
set -euo pipefail
cd "$(dirname "$0")/.."
command -v gnuplot >/dev/null 2>&1 || {
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gnuplot-nox
}
input=${1:-/dev/stdin}
data=$(mktemp)
trap 'rm -f "$data"' EXIT
# mode req/s p99 (the Markdown rows of the table)
grep -E '^\| [a-z-]+ \| [0-9]' "$input" | awk -F'|' '{gsub(/ /, "", $2); print $2, $3, $5}' > "$data"
mkdir -p bench/plots
gnuplot <<GP
set terminal pngcairo size 900,480 noenhanced
set style data histograms
set style fill solid 0.8 border -1
set boxwidth 0.7
set grid ytics
set xtics rotate by -30
set key off
set output "bench/plots/throughput.png"
set title "Requests per second (higher is better), one server core, wrk -c32"
plot "$data" using 2:xtic(1) linecolor rgb "#3b6ea5"
set output "bench/plots/p99.png"
set title "p99 latency in ms (lower is better)"
set logscale y
plot "$data" using 3:xtic(1) linecolor rgb "#c0504d"
GP
echo "wrote bench/plots/throughput.png and bench/plots/p99.png"
