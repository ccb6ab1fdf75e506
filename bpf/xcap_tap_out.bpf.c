// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The tap's egress program: a tc program attached through tcx (a bpf_link,
 * Linux 6.6+) to the interface's egress, so --tap records what the host
 * sends as well as what it receives. Each packet (that the filter matches,
 * up to the snaplen) is copied into the same per-CPU rings as the ingress
 * program's records (bpf/xcap_tap.bpf.h), marked XCAP_RECORD_OUT; the packet
 * always goes on (TCX_NEXT).
 *
 * The filter: the XDP filter (filter/translate.h) reads an XDP context and
 * cannot run here, so the same classic program runs in the classic BPF
 * interpreter (bpf/xcap_cbpf.bpf.h), as in trace's recorders.
 *
 * Order in a ring: tc egress runs with bottom halves off, so XDP (in NAPI)
 * does not run inside it on its CPU, nor it inside XDP: each ring still has
 * one producer at a time, and reserves before it reads the clock.
 *
 * VLAN: a VLAN device over an interface that inserts tags itself
 * (tx-vlan-offload: most NICs, and veth) hands the interface the frame
 * without its tag and the tag beside it, in the skb. Both the filter and the
 * record see the frame with the tag put back after the MAC addresses, 4
 * bytes longer, as libpcap puts back AF_PACKET's tp_vlan_tci: so tcpdump's
 * `vlan 100` matches the frame here too, and the file holds what goes on
 * the wire. The packet itself is not changed. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "xcap_abi.h"

#define VLAN_TAG_LEN 4
#define MAC_ADDRS_LEN 12

/* Copies the first n (1 .. dst's room) bytes of the frame as it goes on the
 * wire into dst: with a tag held beside it, the tag is put back at offset
 * 12. 0 on success. */
static __always_inline long load_wire(struct __sk_buff *skb, __u8 *dst, __u64 n)
{
	if (!skb->vlan_present)
		return bpf_skb_load_bytes(skb, 0, dst, n);
	__u64 head = n < MAC_ADDRS_LEN ? n : MAC_ADDRS_LEN;
	asm volatile("" : "+r"(head));
	if (head < 1 || head > MAC_ADDRS_LEN || bpf_skb_load_bytes(skb, 0, dst, head) != 0)
		return -1;
	/* vlan_proto holds the EtherType as the frame carries it (network
	 * order); vlan_tci is in host order. */
	__u16 proto = (__u16)skb->vlan_proto;
	__u16 tci = bpf_htons((__u16)skb->vlan_tci);
	const __u8 *p = (const __u8 *)&proto, *t = (const __u8 *)&tci;
	if (n > 12)
		dst[12] = p[0];
	if (n > 13)
		dst[13] = p[1];
	if (n > 14)
		dst[14] = t[0];
	if (n > 15)
		dst[15] = t[1];
	if (n <= MAC_ADDRS_LEN + VLAN_TAG_LEN)
		return 0;
	__u64 rest = n - (MAC_ADDRS_LEN + VLAN_TAG_LEN);
	asm volatile("" : "+r"(rest));
	if ((__s64)rest < 1 || rest > n)
		return -1;
	return bpf_skb_load_bytes(skb, MAC_ADDRS_LEN, dst + MAC_ADDRS_LEN + VLAN_TAG_LEN, rest);
}

#define XCAP_TAP_LOAD(ctx, dst, n) load_wire((ctx), (__u8 *)(dst), (n))
#include "xcap_tap.bpf.h"

#define XCAP_LOAD(src, dst, n) load_wire((src), (__u8 *)(dst), (n))
#include "xcap_cbpf.bpf.h"

#define TCX_NEXT (-1)

SEC("tc")
int xcap_tap_out(struct __sk_buff *skb)
{
	__u32 zero = 0;
	struct xcap_ring_counters *ctr = bpf_map_lookup_elem(&xcap_tap_counters, &zero);
	if (!ctr)
		return TCX_NEXT;
	ctr->seen++;
	struct xcap_tap_packet p = {
		.nic_ts_ns = 0,
		.wire_len = skb->len + (skb->vlan_present ? VLAN_TAG_LEN : 0),
		.ifindex = skb->ifindex,
		.queue = skb->queue_mapping,
		.action = -1,
		.flags = XCAP_RECORD_TAP | XCAP_RECORD_OUT,
	};
	__u32 cap = p.wire_len < snaplen ? p.wire_len : snaplen;
	__u32 k = xcap_cbpf_run(skb, cap, p.wire_len, p.ifindex, p.queue);
	if (!k) {
		ctr->filtered++;
		return TCX_NEXT;
	}
	if (k < cap)
		cap = k; /* a classic `ret k` */
	if (cap > XCAP_TAP_MAX_COPY)
		cap = XCAP_TAP_MAX_COPY;
	xcap_tap_copy(skb, ctr, cap, &p);
	return TCX_NEXT;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
