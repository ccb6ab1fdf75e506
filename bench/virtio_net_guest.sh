#!/usr/bin/env bash
# bench/virtio_net_guest.sh: what capturing costs the guest on a real driver,
# copy mode against zero-copy, for the same flood on the guest lane's
# virtio-net pair (zc0 -> zc1, joined only to each other inside qemu). Run it
# in the guest, on the kernel whose virtio_net is to be measured:
#
#   XCAP_VM_KERNEL=7.3 tests/vm/run.sh bench/virtio_net_guest.sh    # writes bench/results/virtio-net-guest.md
#
# XCAP_VNET_BENCH_N (frames per run, 50000), XCAP_VNET_BENCH_ROUNDS (3),
# XCAP_VNET_BENCH_OUT (the results file).
#
# For each round and each mode in turn (--bind copy, --bind zerocopy), xcap
# captures on zc1 (promiscuous: the frames go to a MAC zc1 does not own)
# into a file on the guest's tmpfs, and xcap replay --topspeed sends the same
# file of N 60-byte frames out of zc0. Over the flood it reads, per captured
# packet: xcap's own CPU time (every thread, from schedstat: exact ns), the
# XDP program's run time (the kernel's BPF statistics, kernel.bpf_stats_enabled,
# restored after) and the guest's softirq time (/proc/stat: the receive path,
# where copy mode copies each frame into xcap's buffers and zero-copy does
# not; the sender's completions are the same in both modes). Under TCG every instruction is
# emulated: the figures compare the two modes in the same guest run, nothing
# more. A mode the kernel refuses (exit 7) is reported with xcap's line; any
# figure that cannot be read, or is not above zero, ends the run with the
# reason and status 1. CI runs it at a tiny size (tests/vm, N=2000, one round).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
project=$(cd "$here/.." && pwd)
xcap=$project/build/cli/xcap
n=${XCAP_VNET_BENCH_N:-50000}
rounds=${XCAP_VNET_BENCH_ROUNDS:-3}
out=${XCAP_VNET_BENCH_OUT:-$project/bench/results/virtio-net-guest.md}
rx=zc1
tx=zc0

# The system's interpreter where there is one: a version manager's shim on
# PATH (pyenv's runs a dozen bash processes per call) takes 10-15 s a call in
# the emulated guest, where this script calls it several times per run.
python=/usr/bin/python3
[ -x "$python" ] || python=$(command -v python3)
fail() {
    echo "virtio_net_guest: $*" >&2
    exit 1
}
[ "$(id -u)" = 0 ] || { echo "virtio_net_guest: needs root" >&2; exit 77; }
for i in $rx $tx; do
    [ -e /sys/class/net/$i ] || {
        echo "virtio_net_guest: no $i here: run it in the guest lane (tests/vm/run.sh bench/virtio_net_guest.sh)" >&2
        exit 77
    }
done
[ -x "$xcap" ] || fail "$xcap is missing (build first)"
case "$n$rounds" in *[!0-9]*) fail "XCAP_VNET_BENCH_N and XCAP_VNET_BENCH_ROUNDS must be numbers" ;; esac
[ "$n" -gt 0 ] && [ "$rounds" -gt 0 ] || fail "XCAP_VNET_BENCH_N and XCAP_VNET_BENCH_ROUNDS must be above 0"

tmp=$(mktemp -d /tmp/xcap-vnet-bench.XXXXXX)
cap_pid=""
stats_before=$(sysctl -n kernel.bpf_stats_enabled 2>/dev/null || echo 0)
cleanup() {
    [ -n "$cap_pid" ] && kill -9 "$cap_pid" 2>/dev/null || true
    sysctl -qw kernel.bpf_stats_enabled="$stats_before" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

# The flood: N 60-byte UDP frames to a unicast MAC that zc1 does not own.
"$python" - "$tmp/flood.pcap" "$n" <<'EOF'
import struct, sys
path, n = sys.argv[1], int(sys.argv[2])
with open(path, "wb") as f:
    f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
    for i in range(n):
        eth = bytes.fromhex("02005e000002" "02005e000001" "0800")
        udp = struct.pack("!HHHH", 40000 + i % 1000, 9, 26, 0) + struct.pack("!I", i) + bytes(14)
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
                         bytes([198, 18, 0, 1]), bytes([198, 18, 0, 2]))
        s = sum(struct.unpack("!10H", ip))
        s = (s & 0xffff) + (s >> 16)
        ip = ip[:10] + struct.pack("!H", ~((s & 0xffff) + (s >> 16)) & 0xffff) + ip[12:]
        frame = eth + ip + udp
        f.write(struct.pack("<IIII", 1790000000, i, len(frame), len(frame)) + frame)
EOF

sysctl -qw kernel.bpf_stats_enabled=1 || fail "cannot turn on kernel.bpf_stats_enabled"

# Every thread's CPU time of a process, ns (schedstat's first field).
proc_ns() {
    local total=0 t v
    for t in /proc/"$1"/task/*/schedstat; do
        read -r v _ <"$t" 2>/dev/null || continue
        total=$((total + v))
    done
    echo "$total"
}
# The guest's softirq time, ns, all CPUs (in ticks of 1/CLK_TCK s: a tiny
# run may not reach one).
softirq_ns() {
    awk -v hz="$(getconf CLK_TCK)" '/^cpu / { printf "%.0f\n", $8 * 1e9 / hz }' /proc/stat
}
# Run time (ns) and count of the XDP program on zc1.
prog_stats() {
    local id
    id=$(ip -j link show dev $rx | "$python" -c 'import json,sys; print(json.load(sys.stdin)[0].get("xdp", {}).get("prog", {}).get("id", ""))')
    [ -n "$id" ] || fail "no XDP program on $rx while xcap captures"
    bpftool -j prog show id "$id" | "$python" -c 'import json,sys; p=json.load(sys.stdin); print(p.get("run_time_ns", 0), p.get("run_cnt", 0))'
}

declare -A result own prog softirq captured
one_run() {
    local mode=$1 round=$2
    rm -f "$tmp"/cap.* "$tmp"/replay.*
    "$xcap" --bind "$mode" -i $rx -w "$tmp/cap.pcap" >"$tmp/cap.out" 2>"$tmp/cap.err" &
    cap_pid=$!
    # Its setup line ("zc1 queue 0: native XDP, copy mode, ..."), not the
    # refusal, which names the queue too.
    local setup="$rx queue 0: [a-z]* XDP, " i
    for i in $(seq 1200); do
        grep -q "$setup" "$tmp/cap.err" && break
        kill -0 "$cap_pid" 2>/dev/null || break
        sleep 0.1
    done
    if ! kill -0 "$cap_pid" 2>/dev/null; then
        local status=0
        wait "$cap_pid" || status=$?
        cap_pid=""
        [ "$status" = 7 ] || fail "round $round $mode: xcap ended during setup with status $status: $(cat "$tmp/cap.err")"
        result[$mode,$round]="refused: $(grep -v 'promiscuous mode on' "$tmp/cap.err" | head -n 1)"
        echo "round $round $mode: ${result[$mode,$round]}" >&2
        return
    fi
    grep -q "$setup" "$tmp/cap.err" || fail "round $round $mode: xcap did not finish its setup in 120 s"
    local said
    said=$(grep -o "$setup[^,]*" "$tmp/cap.err" | head -n 1)
    case "$mode:$said" in
        copy:*"copy mode" | zerocopy:*"zero-copy mode") ;;
        *) fail "round $round $mode: xcap says '$said'" ;;
    esac
    local p0 b0 t0 c0 p1 b1 t1 c1
    read -r t0 c0 < <(prog_stats)
    p0=$(proc_ns "$cap_pid")
    b0=$(softirq_ns)
    "$xcap" replay -q -i $tx -r "$tmp/flood.pcap" --topspeed 2>"$tmp/replay.err" ||
        fail "round $round $mode: replay failed: $(cat "$tmp/replay.err")"
    # Until xcap has had every frame: its CPU time stops rising.
    local last=-1 now
    for i in $(seq 300); do
        sleep 0.2
        now=$(proc_ns "$cap_pid")
        [ "$now" = "$last" ] && break
        last=$now
    done
    p1=$(proc_ns "$cap_pid")
    b1=$(softirq_ns)
    read -r t1 c1 < <(prog_stats)
    kill -INT "$cap_pid"
    wait "$cap_pid" || fail "round $round $mode: xcap failed: $(cat "$tmp/cap.err")"
    cap_pid=""
    local v
    for v in "$t0" "$c0" "$t1" "$c1" "$p0" "$p1" "$b0" "$b1"; do
        case "$v" in '' | *[!0-9]*)
            fail "round $round $mode: a counter read '$v' (program $t0 ns/$c0 runs -> $t1/$c1, xcap $p0 -> $p1 ns, softirq $b0 -> $b1 ns)" ;;
        esac
    done
    local got
    got=$(sed -n 's/^xcap: \([0-9]*\) packets\? captured.*/\1/p' "$tmp/cap.err")
    [ -n "$got" ] || fail "round $round $mode: cannot read how many packets xcap captured from: $(cat "$tmp/cap.err")"
    [ "$got" -gt 0 ] || fail "round $round $mode: xcap captured nothing of $n frames"
    [ "$got" -le "$n" ] || fail "round $round $mode: xcap captured $got packets of $n frames sent"
    [ $((c1 - c0)) -gt 0 ] && [ $((t1 - t0)) -gt 0 ] ||
        fail "round $round $mode: the XDP program's BPF statistics did not move (runs $c0 -> $c1, ns $t0 -> $t1)"
    [ $((p1 - p0)) -gt 0 ] || fail "round $round $mode: xcap's CPU time did not move ($p0 -> $p1)"
    captured[$mode,$round]=$got
    own[$mode,$round]=$(((p1 - p0) / got))
    prog[$mode,$round]=$(((t1 - t0) / (c1 - c0)))
    softirq[$mode,$round]=$(((b1 - b0) / got))
    result[$mode,$round]=$said
    echo "round $round $mode: $said; captured $got of $n; xcap ${own[$mode,$round]} ns/pkt," \
        "program ${prog[$mode,$round]} ns/run, softirq ${softirq[$mode,$round]} ns/pkt" >&2
}

for round in $(seq "$rounds"); do
    for mode in copy zerocopy; do
        one_run "$mode" "$round"
    done
done
[ -n "${captured[copy,1]:-}" ] || fail "copy mode captured nothing"

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
{
    echo "# Copy mode against zero-copy on virtio-net (guest lane, emulated)"
    echo
    echo "$(uname -r) ($(nproc) vCPUs), $(date -u '+%Y-%m-%d %H:%M UTC'); under qemu (TCG when run through"
    echo "tests/vm/run.sh: every instruction is emulated, so these are an emulated machine's costs, to compare the"
    echo "two modes with each other in the same run only, never with the host's figures). zc0 -> zc1 are"
    echo "virtio-net-pci devices (iommu_platform=on, disable-legacy=on, rx_queue_size=1024) joined by a qemu hub. $n frames of 60 bytes"
    echo "per run to a MAC zc1 does not own, sent by xcap replay --topspeed out of zc0; xcap captures on zc1"
    echo "(promiscuous) into a file on the guest's tmpfs. Per captured packet: xcap's own CPU (all its threads,"
    echo "schedstat), the XDP program's run time (kernel.bpf_stats_enabled), the guest's softirq time (the receive"
    echo "path: copy mode copies each frame there; /proc/stat, 10 ms ticks). Medians of $rounds rounds, each mode in turn."
    echo
    echo "| mode | xcap's setup line, or why not | captured (runs) | xcap CPU, ns/pkt (median; runs) | XDP program, ns/run (median; runs) | guest softirq, ns/pkt (median; runs) |"
    echo "|---|---|---|---|---|---|"
    for mode in copy zerocopy; do
        if [ -z "${captured[$mode,1]:-}" ]; then
            echo "| --bind $mode | ${result[$mode,1]} | - | - | - | - |"
            continue
        fi
        c=() o=() p=() b=()
        for round in $(seq "$rounds"); do
            c+=("${captured[$mode,$round]}")
            o+=("${own[$mode,$round]}")
            p+=("${prog[$mode,$round]}")
            b+=("${softirq[$mode,$round]}")
        done
        echo "| --bind $mode | ${result[$mode,1]} | ${c[*]} | $(median "${o[@]}") (${o[*]}) | $(median "${p[@]}") (${p[*]}) | $(median "${b[@]}") (${b[*]}) |"
    done
    if [ -z "${captured[zerocopy,1]:-}" ]; then
        echo
        echo "Zero-copy was refused: this kernel does not let virtio_net bind it (on Debian's 6.12 the AF_XDP core"
        echo "asks for the xsk-zerocopy xdp-feature, which virtio_net reports from 6.13; tests/vm/README.md), so there"
        echo "is no zero-copy figure to set beside copy mode's."
    fi
} >"$out"
cat "$out"
