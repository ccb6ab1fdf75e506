// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* xcap trace: fentry and fexit programs on an XDP program that is already
 * attached (the user's), in the manner of xdpdump. The entry program records
 * the packet as the XDP program receives it (action -1), the exit program as
 * it leaves it, with the action it returned. The attach target is set from
 * user space before load (bpf_program__set_attach_target with the traced
 * program's fd and function name), so the sections name none; one instance
 * of this object is loaded per traced program, all sharing one ring.
 *
 * Packet bytes are read from the xdp_buff with bpf_probe_read_kernel: the
 * linear part only (fragments of a multi-buffer packet are not read, and
 * wire_len counts the linear part).
 *
 * A filter expression (xcap_cbpf.bpf.h) runs where a packet is first seen:
 * at entry, or at exit when no entry program is loaded (--at exit). A packet
 * that does not match is counted (filtered) and recorded neither at entry
 * nor at exit: the entry leaves its verdict in the CPU's xcap_pairs slot for
 * the exit of the same run. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#define XCAP_LOAD(src, dst, n) bpf_probe_read_kernel((dst), (n), (src))
#include "xcap_record.bpf.h"
#include "xcap_cbpf.bpf.h"

/* The few kernel fields read here, relocated by CO-RE against the running
 * kernel's BTF. */
struct net_device {
	int ifindex;
} __attribute__((preserve_access_index));

struct xdp_rxq_info {
	struct net_device *dev;
	__u32 queue_index;
} __attribute__((preserve_access_index));

struct xdp_buff {
	void *data;
	void *data_end;
	struct xdp_rxq_info *rxq;
} __attribute__((preserve_access_index));

/* Set before load. */
const volatile __u32 traced_prog_id = 0;
const volatile __u8 with_entry = 1; /* the entry program is loaded: it counts packets and makes the pair ids */

/* Per CPU: the id of the packet the traced program is running for, and the
 * filter's result for it (0: no match, not recorded at exit either). An XDP
 * program runs to its end on one CPU without another packet in between, so
 * the entry and exit of one run see the same slot. */
struct xcap_pair {
	__u64 seq;
	__u64 current;
	__u32 match;
	__u32 reserved;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xcap_pair);
} xcap_pairs SEC(".maps");

static __always_inline __u64 next_id(struct xcap_pair *p)
{
	p->seq++;
	/* The CPU in the top 16 bits: ids are unique across CPUs, never 0. */
	p->current = ((__u64)(bpf_get_smp_processor_id() + 1) << 48) | (p->seq & 0xffffffffffffull);
	return p->current;
}

static __always_inline void trace(struct xdp_buff *xdp, __s32 action, __u32 flags)
{
	struct xcap_ring_counters *ctr = xcap_counters();
	__u32 zero = 0;
	struct xcap_pair *p = bpf_map_lookup_elem(&xcap_pairs, &zero);
	if (!ctr || !p)
		return;
	const int first = (flags & XCAP_RECORD_ENTRY) || !with_entry;
	if (first)
		ctr->seen++;
	if (flags & XCAP_RECORD_EXIT)
		xcap_count_action(action);

	void *data = BPF_CORE_READ(xdp, data);
	void *data_end = BPF_CORE_READ(xdp, data_end);
	struct xdp_rxq_info *rxq = BPF_CORE_READ(xdp, rxq);
	struct xcap_record_args a = {
		.src = data,
		.len = data_end > data ? (__u32)(data_end - data) : 0,
		.ifindex = rxq ? BPF_CORE_READ(rxq, dev, ifindex) : 0,
		.rx_queue = rxq ? BPF_CORE_READ(rxq, queue_index) : 0,
		.prog_id = traced_prog_id,
		.action = action,
		.flags = flags,
	};
	a.wire_len = a.len;
	if (first) {
		/* The filter sees what the record would hold. */
		__u32 copy = a.len < xcap_snaplen ? a.len : xcap_snaplen;
		p->match = xcap_cbpf_run(data, copy, a.wire_len, a.ifindex, a.rx_queue);
		if (!p->match) {
			ctr->filtered++;
			return;
		}
	} else if (!p->match) {
		return; /* its entry did not match */
	}
	if (p->match < a.len)
		a.len = p->match; /* a classic `ret k` below the length cuts the record there */
	a.packet_id = first ? next_id(p) : p->current;
	xcap_record(ctr, &a);
}

/* A tracing program's context is the traced function's arguments as u64s:
 * for an XDP program its one argument (the xdp_buff behind the xdp_md), then
 * (fexit) its return value. */
SEC("fentry")
int xcap_entry(__u64 *ctx)
{
	trace((struct xdp_buff *)ctx[0], -1, XCAP_RECORD_ENTRY);
	return 0;
}

SEC("fexit")
int xcap_exit(__u64 *ctx)
{
	trace((struct xdp_buff *)ctx[0], (__s32)ctx[1], XCAP_RECORD_EXIT);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
