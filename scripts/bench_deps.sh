#!/usr/bin/env bash
# Installs the benchmarks' peers and tools from Debian's packages: tcpreplay,
# netsniff-ng, xdp-tools (xdpdump), gnuplot (the plots) and perf (the
# harness keeps a profile of xcap). scripts/bench.sh runs it, and so does
# scripts/test.sh, whose tiny benchmark runs check that every peer is in the
# tables. Run as root on Debian 12 (bookworm) or later.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
need=()
for p in tcpreplay netsniff-ng xdp-tools gnuplot-nox linux-perf; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "bench: installing ${need[*]}"
  apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
