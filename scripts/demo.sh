#!/usr/bin/env bash
# The demo: two throwaway network namespaces joined by a veth pair, mixed
# traffic (UDP, TCP, ICMP, IPv6, ARP, VLAN) sent from one, captured by xcap on
# the other into a pcap file, decoded by tcpdump. Everything it creates is
# removed on exit, also on failure or Ctrl-C. Needs root and a built tree
# (scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
xcap=build/cli/xcap
gen=build/tests/common/xcap-mixgen
[ -x "$xcap" ] && [ -x "$gen" ] || { echo "demo: build first: scripts/setup.sh" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "demo: needs root (network namespaces, XDP)" >&2; exit 1; }

tag=$$
a=xcap-demo-a-$tag b=xcap-demo-b-$tag
out=$(mktemp -d /tmp/xcap-demo-XXXXXX)
xpid=
cleanup() {
  [ -n "$xpid" ] && kill "$xpid" 2>/dev/null && wait "$xpid" 2>/dev/null || true
  ip netns del "$a" 2>/dev/null || true
  ip netns del "$b" 2>/dev/null || true
  rm -rf "$out"
}
trap cleanup EXIT INT TERM

ip netns add "$a"
ip netns add "$b"
ip link add va numtxqueues 2 numrxqueues 2 netns "$a" type veth peer name vb numtxqueues 2 numrxqueues 2 netns "$b"
for x in "$a va 198.18.0.1/30" "$b vb 198.18.0.2/30"; do
  set -- $x
  ip netns exec "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  ip -n "$1" addr add "$3" dev "$2"
  ip -n "$1" link set "$2" up
done
# CPU i sends on queue i, so the capture sees traffic on both queues.
ip netns exec "$a" sh -c 'echo 1 > /sys/class/net/va/queues/tx-0/xps_cpus; echo 2 > /sys/class/net/va/queues/tx-1/xps_cpus'

echo "== xcap -i vb -w capture.pcap   (in namespace $b)"
ip netns exec "$b" "$xcap" -i vb -w "$out/capture.pcap" 2>"$out/xcap.log" &
xpid=$!
for _ in $(seq 100); do ip -n "$b" link show vb | grep -q ' xdp' && break; sleep 0.05; done

echo "== sending 2000 mixed frames from namespace $a"
ip netns exec "$a" "$gen" -i va -n 2000 | tail -1
sleep 0.3
kill -INT "$xpid"
wait "$xpid"
xpid=
cat "$out/xcap.log"

echo "== tcpdump -n -e -r capture.pcap (first 12 packets)"
tcpdump -n -e -r "$out/capture.pcap" -c 12 2>/dev/null
echo "== $(tcpdump -r "$out/capture.pcap" 2>/dev/null | wc -l) packets in the file"
