#!/usr/bin/env bash
# The benchmarks: Google Benchmark micro-benchmarks, then the end-to-end
# harness (xcap against tcpdump, netsniff-ng and tcpreplay in one run; xdpdump
# is probed). Installs what it needs from Debian first (perf comes from
# linux-perf: the harness keeps a profile of xcap with its results).
# Results: bench/results/. Needs root. --quick for a short run (about 2-3
# minutes); a full run takes about 10-15 minutes on a quiet 2-core machine.
# Other arguments go to xcap-bench (e.g. --phases equal,replay).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bench_deps.sh
scripts/setup.sh
mkdir -p bench/results
echo "bench: load before the run: $(uptime)"
quick=0
for a in "$@"; do [ "$a" = --quick ] && quick=1; done
min_time=0.5
[ $quick = 1 ] && min_time=0.1
# bench/trace_filter has its own folder (and binary) under build/bench.
shopt -s nullglob
for b in build/bench/xcap_*_bench build/bench/*/xcap_*_bench; do
  "$b" --benchmark_min_time="$min_time" --benchmark_out="bench/results/$(basename "$b").json" \
    --benchmark_out_format=json
done
build/bench/xcap-bench --out bench/results "$@"
echo "bench: load after the run: $(uptime)"
