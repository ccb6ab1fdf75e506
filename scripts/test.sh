#!/usr/bin/env bash
# Runs every test: builds (via setup.sh, which installs what is missing), runs
# the unit and netns suites with ctest, then the unit suite again under
# ASan+UBSan. Netns tests need root and skip with the reason without it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
ctest --test-dir build --output-on-failure --timeout 300

echo "test: unit tests under AddressSanitizer + UndefinedBehaviorSanitizer"
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DXCAP_SANITIZE=address -DXCAP_BUILD_BENCH=OFF >/dev/null
cmake --build build-asan --target xcap_unit_tests
ctest --test-dir build-asan -L unit --output-on-failure
