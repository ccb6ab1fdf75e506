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
export DEBIAN_FRONTEND=noninteractive
need=()
for p in tcpreplay netsniff-ng xdp-tools gnuplot-nox linux-perf; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "bench: installing ${need[*]}"
  apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
scripts/setup.sh
mkdir -p bench/results
echo "bench: load before the run: $(uptime)"
quick=0
for a in "$@"; do [ "$a" = --quick ] && quick=1; done
min_time=0.5
[ $quick = 1 ] && min_time=0.1
for b in build/bench/xcap_*_bench; do
  "$b" --benchmark_min_time="$min_time" --benchmark_out="bench/results/$(basename "$b").json" \
    --benchmark_out_format=json
done
build/bench/xcap-bench --out bench/results "$@"
echo "bench: load after the run: $(uptime)"
