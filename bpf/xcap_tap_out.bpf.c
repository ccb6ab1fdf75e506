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
 * one producer at a time, and reserves before it reads the clock. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "xcap_abi.h"

#define XCAP_TAP_LOAD(ctx, dst, n) bpf_skb_load_bytes((ctx), 0, (dst), (n))
#include "xcap_tap.bpf.h"

#define XCAP_LOAD(src, dst, n) bpf_skb_load_bytes((src), 0, (dst), (n))
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
		.wire_len = skb->len,
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
