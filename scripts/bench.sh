#!/usr/bin/env bash
# The benchmarks: Google Benchmark micro-benchmarks, then the end-to-end
# harness (xcap against tcpdump, xdpdump, netsniff-ng and tcpreplay in one
# run). Installs what it needs from Debian first. Results: bench/results/.
# Needs root. --quick for a short run.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
need=()
for p in tcpreplay netsniff-ng xdp-tools gnuplot-nox; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "bench: installing ${need[*]}"
  apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
scripts/setup.sh
mkdir -p bench/results
for b in build/bench/xcap_*_bench; do
  "$b" --benchmark_min_time=0.5 --benchmark_out="bench/results/$(basename "$b").json" --benchmark_out_format=json
done
build/bench/xcap-bench --out bench/results "$@"
