#!/usr/bin/env bash
# Runs every test: builds (via setup.sh, which installs what is missing), runs
# the host lane (unit and netns suites, the benchmarks at a tiny size) with
# ctest, then the guest lanes (tests/vm: Debian's 6.1, its 6.12, and a newer
# series from trixie-backports for zero-copy, under qemu), then the unit
# suite again under ASan+UBSan, the unit suite and four end-to-end tests
# under TSan, and fuzzes the reader. The sanitizer and fuzz
# trees build at the lowest priority while the guests run, on what CPU the
# emulated guests leave idle. Netns tests need root and skip with the reason
# without it; each lane says how long it took.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/bench_deps.sh  # the peers the tiny benchmark runs must find in their tables

lane_start=0
lane() { echo "test: $1"; lane_start=$SECONDS; }
lane_end() { echo "test: $1 took $(((SECONDS - lane_start) / 60)) min $(((SECONDS - lane_start) % 60)) s"; }

lane "host lane: unit, netns and the benchmarks at a tiny size"
ctest --test-dir build --output-on-failure --timeout 300 -LE 'soak|vm'  # the soak test is on demand: ctest -L soak
lane_end "host lane"

# The sanitizer and fuzz builds, beside the guest lanes and below them.
mkdir -p build/ci-logs
build_others() {
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DXCAP_SANITIZE=address -DXCAP_BUILD_BENCH=OFF -DXCAP_WERROR="${XCAP_WERROR:-OFF}"
  cmake --build build-asan --target xcap_unit_tests xcap_filter_tests
  cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DXCAP_SANITIZE=thread -DXCAP_BUILD_BENCH=OFF -DXCAP_WERROR="${XCAP_WERROR:-OFF}"
  cmake --build build-tsan --target xcap xcap_unit_tests xcap_filter_tests xcap_netns_tests xcap-mixgen
  CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DXCAP_FUZZ=ON -DXCAP_BUILD_BENCH=OFF
  cmake --build build-fuzz --target xcap_reader_fuzz
}
export -f build_others
# Its own process group (setsid), so that a failing lane ends the whole build.
XCAP_WERROR=${XCAP_WERROR:-OFF} setsid nice -n 19 bash -c 'set -euo pipefail; build_others' \
  >build/ci-logs/sanitizer-builds.log 2>&1 &
builds_pid=$!
trap 'kill -- -"$builds_pid" 2>/dev/null || true' EXIT

lane "guest lane, Debian's 6.1 (tests/vm)"
ctest --test-dir build --output-on-failure -L '^vm$'
lane_end "guest lane 6.1"
lane "guest lane, Debian's 6.12 (tests/vm)"
ctest --test-dir build --output-on-failure -L '^vm612$'
lane_end "guest lane 6.12"
newer=$(sed -n 's/^XCAP_VM_NEWER_KERNEL:STRING=//p' build/CMakeCache.txt)
[ -n "$newer" ] || { echo "test: XCAP_VM_NEWER_KERNEL is not in build/CMakeCache.txt"; exit 1; }
lane "guest lane, Debian's $newer from trixie-backports: zero-copy (tests/vm)"
ctest --test-dir build --output-on-failure -L "^vm${newer//./}\$"
lane_end "guest lane $newer"

lane "waiting for the sanitizer and fuzz builds"
if ! wait "$builds_pid"; then
  tail -n 40 build/ci-logs/sanitizer-builds.log
  echo "test: the sanitizer or fuzz build failed (build/ci-logs/sanitizer-builds.log)"
  exit 1
fi
trap - EXIT
lane_end "the rest of the sanitizer and fuzz builds"

lane "unit tests under AddressSanitizer + UndefinedBehaviorSanitizer"
ctest --test-dir build-asan -L unit --output-on-failure
lane_end "ASan+UBSan"

lane "ThreadSanitizer: unit tests, and capture and replay end to end"
# The SPSC hand-offs, the merge, the doorbell and the stop flags are what TSan
# checks; a race makes the instrumented xcap exit 66, so its test fails.
export TSAN_OPTIONS="halt_on_error=1 exitcode=66 second_deadlock_stack=1"
ctest --test-dir build-tsan -L unit --output-on-failure
ctest --test-dir build-tsan --output-on-failure --timeout 300 \
  -R '^(Capture\.EveryFrameByteIdenticalInOrderPerQueue|Capture\.SigintMidStreamLosesNothing|Replay\.RoundTripStreamed|Replay\.TwoQueuesKeepPerFlowOrder)$'
unset TSAN_OPTIONS
lane_end "TSan"

lane "fuzzing the capture reader for 30 s (libFuzzer, ASan+UBSan)"
corpus=$(mktemp -d /tmp/xcap-fuzz-XXXXXX)
trap 'rm -rf "$corpus"' EXIT
build-fuzz/tests/fuzz/xcap_reader_fuzz -max_total_time=30 -seed=1 -print_final_stats=1 "$corpus" tests/fuzz/seeds 2>&1 | tail -5
