#!/usr/bin/env bash
# Runs every test: builds (via setup.sh, which installs what is missing), runs
# the unit and netns suites with ctest, then the unit suite again under
# ASan+UBSan, the unit suite and four end-to-end tests under TSan, and fuzzes
# the reader. Netns tests need root and skip with the reason without it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
ctest --test-dir build --output-on-failure --timeout 300 -LE soak  # the soak test is on demand: ctest -L soak

echo "test: unit tests under AddressSanitizer + UndefinedBehaviorSanitizer"
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DXCAP_SANITIZE=address -DXCAP_BUILD_BENCH=OFF -DXCAP_WERROR="${XCAP_WERROR:-OFF}" >/dev/null
cmake --build build-asan --target xcap_unit_tests xcap_filter_tests
ctest --test-dir build-asan -L unit --output-on-failure

echo "test: ThreadSanitizer: unit tests, and capture and replay end to end"
# The SPSC hand-offs, the merge, the doorbell and the stop flags are what TSan
# checks; a race makes the instrumented xcap exit 66, so its test fails.
export TSAN_OPTIONS="halt_on_error=1 exitcode=66 second_deadlock_stack=1"
cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DXCAP_SANITIZE=thread -DXCAP_BUILD_BENCH=OFF -DXCAP_WERROR="${XCAP_WERROR:-OFF}" >/dev/null
cmake --build build-tsan --target xcap xcap_unit_tests xcap_filter_tests xcap_netns_tests xcap-mixgen
ctest --test-dir build-tsan -L unit --output-on-failure
ctest --test-dir build-tsan --output-on-failure --timeout 300 \
  -R '^(Capture\.EveryFrameByteIdenticalInOrderPerQueue|Capture\.SigintMidStreamLosesNothing|Replay\.RoundTripStreamed|Replay\.TwoQueuesKeepPerFlowOrder)$'
unset TSAN_OPTIONS

echo "test: fuzzing the capture reader for 30 s (libFuzzer, ASan+UBSan)"
CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DXCAP_FUZZ=ON -DXCAP_BUILD_BENCH=OFF >/dev/null
cmake --build build-fuzz --target xcap_reader_fuzz
corpus=$(mktemp -d /tmp/xcap-fuzz-XXXXXX)
trap 'rm -rf "$corpus"' EXIT
build-fuzz/tests/fuzz/xcap_reader_fuzz -max_total_time=30 -seed=1 -print_final_stats=1 "$corpus" tests/fuzz/seeds 2>&1 | tail -5
