#!/usr/bin/env bash
# bench/trace_vs_xdpdump.sh: the cost of tracing an XDP program, xcap trace
# against xdpdump (Debian's xdp-tools), in the same run on the same program.
# Needs a kernel that allows fentry/fexit on XDP programs: run it in the
# guest lane,
#
#   tests/vm/run.sh bench/trace_vs_xdpdump.sh          # writes bench/results/trace-guest.md
#
# XCAP_TRACE_BENCH_N (frames per run, 100000), XCAP_TRACE_BENCH_ROUNDS (3),
# XCAP_TRACE_BENCH_OUT (the results file).
#
# In a throwaway pair of namespaces joined by a one-queue veth pair, the
# tests' XDP program (tests/netns/xdp_actions.bpf.c; the flood's frames go to
# UDP port 9: XDP_PASS) runs on the receiving end, and xcap-flood sends N
# 64-byte frames as fast as it can (BPF_PROG_RUN live frames). For each round
# and each tool in turn (none, xcap trace, xdpdump; both tools at entry and
# exit, writing pcapng to /tmp), it measures the program's packet rate (its
# own run counter over the flood's time) and what the tool wrote and lost.
# With the kernel's BPF statistics on (kernel.bpf_stats_enabled, restored
# after), it also reads what the recorders themselves cost: the run time of
# every tracing program (fentry/fexit: the tool's) over the flood, per run of
# the traced program. That is the time the recording adds to each packet
# (the trampoline's own entry and exit, the same for both tools, aside), and
# it does not depend on how fast the emulated machine happened to run the
# flood. Medians of ROUNDS rounds. Namespaces and files are removed on every
# path.
#
# A figure it cannot trust ends the run with the reason and status 1, before
# any table is written: a run counter that did not move, a flood time or a
# tool's record count it cannot read, more records than the program ran
# twice. (It once read the run count from the wrong one of the program's
# maps and printed rates of 0.0 kpps and "-60000" lost records, exit 0.)
# CI runs it at a tiny size (tests/vm: XCAP_TRACE_BENCH_N=2000, one round).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
project=$(cd "$here/.." && pwd)
xcap=$project/build/cli/xcap
flood=$project/build/bench/xcap-flood
prog=$project/build/tests/netns/xdp_actions.bpf.o
# XCAP_* names: tests/vm/run.sh passes those into the guest.
n=${XCAP_TRACE_BENCH_N:-100000}
rounds=${XCAP_TRACE_BENCH_ROUNDS:-3}
out=${XCAP_TRACE_BENCH_OUT:-$project/bench/results/trace-guest.md}

# The system's interpreter where there is one: a version manager's shim on
# PATH (pyenv's runs a dozen bash processes per call) takes 10-15 s a call in
# the emulated guest, where this script calls it several times per run.
python=/usr/bin/python3
[ -x "$python" ] || python=$(command -v python3)
fail() {
    echo "trace_vs_xdpdump: $*" >&2
    exit 1
}
[ "$(id -u)" = 0 ] || { echo "trace_vs_xdpdump: needs root" >&2; exit 77; }
case "$n$rounds" in *[!0-9]*) fail "XCAP_TRACE_BENCH_N and XCAP_TRACE_BENCH_ROUNDS must be numbers" ;; esac
[ "$n" -gt 0 ] && [ "$rounds" -gt 0 ] || fail "XCAP_TRACE_BENCH_N and XCAP_TRACE_BENCH_ROUNDS must be above 0"
for f in "$xcap" "$flood" "$prog"; do
    [ -e "$f" ] || { echo "trace_vs_xdpdump: $f is missing (build first)" >&2; exit 2; }
done
command -v xdpdump >/dev/null || { echo "trace_vs_xdpdump: xdpdump is missing (apt-get install xdp-tools)" >&2; exit 77; }

a=xtb-a-$$
b=xtb-b-$$
tmp=$(mktemp -d /tmp/xcap-trace-bench.XXXXXX)
tool_pid=""
stats_before=$(sysctl -n kernel.bpf_stats_enabled 2>/dev/null || echo 0)
cleanup() {
    [ -n "$tool_pid" ] && kill -9 "$tool_pid" 2>/dev/null || true
    sysctl -qw kernel.bpf_stats_enabled="$stats_before" 2>/dev/null || true
    ip netns del "$a" 2>/dev/null || true
    ip netns del "$b" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

ip netns add "$a"
ip netns add "$b"
ip link add va numtxqueues 1 numrxqueues 1 netns "$a" type veth peer name vb numtxqueues 1 numrxqueues 1 netns "$b"
for ns in "$a" "$b"; do
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
done
ip -n "$a" link set dev va up
ip -n "$b" link set dev vb up
ip -n "$b" link set dev vb xdpdrv obj "$prog" sec xdp
prog_id=$(ip -n "$b" -j link show dev vb | "$python" -c 'import json,sys; print(json.load(sys.stdin)[0]["xdp"]["prog"]["id"])')
# The program's run counter is its map named action_runs. It has other maps
# (the xdpcap hook, the multi-buffer count), in an order that is not ours.
runs_map=""
maps=""
for m in $(bpftool -j prog show id "$prog_id" | "$python" -c 'import json,sys; print(*json.load(sys.stdin).get("map_ids", []))'); do
    name=$(bpftool -j map show id "$m" | "$python" -c 'import json,sys; print(json.load(sys.stdin).get("name", ""))')
    maps+=" $m:$name"
    [ "$name" = action_runs ] && runs_map=$m
done
[ -n "$runs_map" ] || fail "program $prog_id on vb has no action_runs map to count its runs (its maps:${maps:- none})"
# The program's run count, summed over actions.
runs() {
    local total
    total=$(bpftool -j map dump id "$runs_map" | "$python" -c '
import json, sys
total = 0
for e in json.load(sys.stdin):
    v = e.get("value", e.get("formatted", {}).get("value"))
    total += int.from_bytes(bytes(int(x, 16) for x in v), "little") if isinstance(v, list) else int(v)
print(total)') || fail "cannot read the run counter (map $runs_map)"
    echo "$total"
}

sysctl -qw kernel.bpf_stats_enabled=1
# Run time (ns) and run count of every loaded tracing program, summed.
recorders() {
    bpftool -j prog show | "$python" -c '
import json, sys
t = c = 0
for p in json.load(sys.stdin):
    if p.get("type") == "tracing":
        t += p.get("run_time_ns", 0)
        c += p.get("run_cnt", 0)
print(t, c)'
}

# Waits (up to 180 s by the clock: a loaded emulated guest takes seconds
# per look) until the tool's output holds PATTERN, or it died.
wait_for() {
    local pattern=$1 until=$((SECONDS + 180))
    while [ "$SECONDS" -lt "$until" ]; do
        cat "$tmp/t.out" "$tmp/t.err" 2>/dev/null | grep -q "$pattern" && return 0
        kill -0 "$tool_pid" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

declare -A rate written lost cost
one_run() {
    local tool=$1 round=$2 before after secs
    rm -f "$tmp"/*.pcapng "$tmp"/*.err "$tmp"/*.out
    case $tool in
        none) ;;
        xcap)
            ip netns exec "$b" "$xcap" trace -i vb -w "$tmp/x.pcapng" >"$tmp/t.out" 2>"$tmp/t.err" &
            tool_pid=$!
            wait_for "xcap: tracing" ||
                fail "round $round: xcap trace did not start tracing within 180 s: $(cat "$tmp/t.err")" ;;
        xdpdump)
            ip netns exec "$b" xdpdump -i vb --rx-capture entry,exit -w "$tmp/d.pcapng" >"$tmp/t.out" 2>"$tmp/t.err" &
            tool_pid=$!
            wait_for "listening on" ||
                fail "round $round: xdpdump did not start listening within 180 s: $(cat "$tmp/t.out" "$tmp/t.err")" ;;
    esac
    before=$(runs)
    read -r t0 c0 < <(recorders)
    ip netns exec "$a" "$flood" -i va -n "$n" --cpus 1 >"$tmp/flood.out" 2>&1
    read -r t1 c1 < <(recorders)
    after=$(runs)
    secs=$(sed -n 's/.* in \([0-9.]*\) s.*/\1/p' "$tmp/flood.out" | head -n 1)
    "$python" -c "import sys; sys.exit(0 if float('$secs' or 0) > 0 else 1)" 2>/dev/null ||
        fail "round $round $tool: cannot read the flood's time from: $(cat "$tmp/flood.out")"
    local ran=$((after - before))
    # Every frame runs the program once; the veth may drop some before it
    # when the receiver falls behind, never add any.
    [ "$ran" -gt 0 ] ||
        fail "round $round $tool: the program's run counter (map $runs_map) did not move during a flood of $n frames"
    [ "$ran" -le "$n" ] ||
        fail "round $round $tool: the run counter says $ran runs for $n frames: it counts something else"
    rate[$tool,$round]=$("$python" -c "print(round($ran / $secs / 1000, 1))")
    cost[$tool,$round]=-
    if [ "$tool" != none ] && [ "$ran" -gt 0 ]; then
        cost[$tool,$round]=$("$python" -c "print(round(($t1 - $t0) / $ran))")
        echo "round $round $tool: recorders ran $((c1 - c0)) times, $((t1 - t0)) ns" >&2
    fi
    written[$tool,$round]=-
    lost[$tool,$round]=-
    if [ -n "$tool_pid" ]; then
        sleep 2  # let the tool drain what it was handed (both flush on SIGINT too)
        kill -INT "$tool_pid"
        wait "$tool_pid" || true
        tool_pid=""
        local offered=$((2 * ran)) w
        if [ "$tool" = xcap ]; then
            w=$(sed -n 's/^xcap: \([0-9]*\) records\? written.*/\1/p' "$tmp/t.err")
        else
            w=$(cat "$tmp/t.out" "$tmp/t.err" | sed -n 's/^\([0-9]*\) packets\? captured.*/\1/p' | head -n 1)
        fi
        [ -n "$w" ] || fail "round $round $tool: cannot read how many records it wrote from: $(cat "$tmp/t.out" "$tmp/t.err")"
        [ "$w" -le "$offered" ] ||
            fail "round $round $tool: wrote $w records, more than the $offered the program's $ran runs offered"
        written[$tool,$round]=$w
        lost[$tool,$round]=$((offered - w))
        echo "round $round $tool: program ran $ran in $secs s, ${rate[$tool,$round]} kpps; offered $offered records, wrote $w" >&2
        grep -h "lost\|dropped" "$tmp/t.err" "$tmp/t.out" >&2 || true
    else
        echo "round $round none: program ran $ran in $secs s, ${rate[$tool,$round]} kpps" >&2
    fi
}

for round in $(seq "$rounds"); do
    for tool in none xcap xdpdump; do
        one_run "$tool" "$round"
    done
done

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
{
    echo "# xcap trace against xdpdump (guest lane)"
    echo
    echo "$(uname -r) ($(nproc) vCPUs), $(date -u '+%Y-%m-%d %H:%M UTC'); under qemu (TCG when run through tests/vm/run.sh:"
    echo "rates are an emulated machine's, to compare with each other only). $n 64-byte frames per run,"
    echo "unpaced (xcap-flood, one CPU), the program's rate from its own run counter; both tools at entry and"
    echo "exit, pcapng into /tmp (tmpfs); offered = 2 records per program run. $(xdpdump --version 2>&1 | head -n 1)."
    echo
    echo "| tool | program rate, kpps (median; runs) | recorders' time per packet, ns (median; runs) | records written (runs) | records lost (runs) |"
    echo "|---|---|---|---|---|"
    for tool in none xcap xdpdump; do
        r=() w=() l=() c=()
        for round in $(seq "$rounds"); do
            r+=("${rate[$tool,$round]}")
            w+=("${written[$tool,$round]}")
            l+=("${lost[$tool,$round]}")
            c+=("${cost[$tool,$round]}")
        done
        cm=-
        [ "$tool" != none ] && cm=$(median "${c[@]}")
        echo "| $tool | $(median "${r[@]}") (${r[*]}) | $cm (${c[*]}) | ${w[*]} | ${l[*]} |"
    done
} >"$out"
cat "$out"
