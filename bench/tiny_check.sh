#!/usr/bin/env bash
# bench/tiny_check.sh micro|harness: a benchmark run at a tiny size with its
# output checked by bench/check_results.py, so that CI sees a benchmark that
# no longer measures (rates of zero, negative losses, a peer tool missing
# from its table) instead of finding it months later. ctest runs both
# (tests/bench); the guest lane runs the guest benchmarks the same way.
#
#   micro    every Google Benchmark binary under build/bench, as
#            scripts/bench.sh runs them but for 10 ms each
#   harness  xcap-bench --quick (every phase, the peers included)
#
# Exit status: 0 when every figure was measured, 1 when not (the reasons on
# stderr), 77 when this machine cannot run it (not root, a peer missing:
# scripts/bench.sh installs them).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
project=$(cd "$here/.." && pwd)
build=${XCAP_BUILD_DIR:-$project/build}
skip() { echo "tiny_check: skipped: $*" >&2; exit 77; }

tmp=$(mktemp -d /tmp/xcap-tiny-check.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

case "${1:-}" in
    micro)
        shopt -s nullglob
        benches=("$build"/bench/xcap_*_bench "$build"/bench/*/xcap_*_bench)
        [ ${#benches[@]} -gt 0 ] || { echo "tiny_check: no benchmark binaries under $build/bench (build first)" >&2; exit 1; }
        outs=()
        for b in "${benches[@]}"; do
            name=$(basename "$b")
            echo "tiny_check: $name" >&2
            "$b" --benchmark_min_time=0.01 --benchmark_out="$tmp/$name.json" --benchmark_out_format=json \
                >"$tmp/$name.out" 2>&1 || { cat "$tmp/$name.out" >&2; echo "tiny_check: $name failed" >&2; exit 1; }
            outs+=("$tmp/$name.json")
        done
        python3 "$here/check_results.py" micro "${outs[@]}"
        ;;
    harness)
        [ "$(id -u)" = 0 ] || skip "the harness needs root"
        for tool in tcpdump netsniff-ng tcpreplay xdpdump perf; do
            command -v "$tool" >/dev/null || skip "$tool is missing (scripts/bench.sh installs the peers)"
        done
        "$build/bench/xcap-bench" --quick --out "$tmp/e2e" >"$tmp/harness.out" 2>&1 ||
            { tail -n 40 "$tmp/harness.out" >&2; echo "tiny_check: xcap-bench failed" >&2; exit 1; }
        python3 "$here/check_results.py" harness "$tmp/e2e/latest.json" ||
            { echo "tiny_check: what xcap-bench printed:" >&2; tail -n 40 "$tmp/harness.out" >&2; exit 1; }
        ;;
    *)
        echo "usage: bench/tiny_check.sh micro|harness" >&2
        exit 2
        ;;
esac
