#!/usr/bin/env bash
# Installs what xcap needs from Debian's packages and builds it into build/.
# Run as root on Debian 12 (bookworm) or later.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential cmake ninja-build pkg-config clang llvm
  libxdp-dev libbpf-dev bpftool libelf-dev zlib1g-dev libpcap-dev
  libboost-dev libgtest-dev libbenchmark-dev
  iproute2 util-linux tcpdump tshark iputils-ping
  dpkg-dev man-db groff-base xfsprogs btrfs-progs
)
# dpkg-dev: dpkg-shlibdeps, which cpack -G DEB runs to declare the
# package's dependencies; man-db and groff-base: the man page test;
# xfsprogs and btrfs-progs: the disk tests' XFS and btrfs file systems.
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# CI builds treat warnings as errors (XCAP_WERROR=ON in .ci/run).
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DXCAP_WERROR="${XCAP_WERROR:-OFF}" >/dev/null
cmake --build build
echo "setup: built build/cli/xcap"
