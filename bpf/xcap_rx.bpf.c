// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The capture program: stamp the arrival time into the metadata area and
 * redirect the packet to the AF_XDP socket bound to its RX queue; pass it to
 * the stack when no socket is bound there. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "xcap_abi.h"

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, XCAP_MAX_QUEUES);
	__type(key, __u32);
	__type(value, __u32);
} xcap_xsks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xcap_rx_counters);
} xcap_counters SEC(".maps");

SEC("xdp")
int xcap_rx(struct xdp_md *ctx)
{
	/* Read the clock first: everything below is part of the capture cost,
	 * not of the packet's arrival. */
	__u64 now = bpf_ktime_get_ns();
	__u32 queue = ctx->rx_queue_index;
	__u32 zero = 0;
	struct xcap_rx_counters *ctr = bpf_map_lookup_elem(&xcap_counters, &zero);

	if (bpf_xdp_adjust_meta(ctx, -(int)sizeof(struct xcap_meta)) == 0) {
		struct xcap_meta *meta = (void *)(long)ctx->data_meta;
		void *data = (void *)(long)ctx->data;

		if ((void *)(meta + 1) <= data) {
			meta->rx_ts_ns = now;
			meta->rx_queue = queue;
			meta->magic = XCAP_META_MAGIC;
		}
	}

	/* The low bits of flags are the action when the queue has no socket. */
	long action = bpf_redirect_map(&xcap_xsks, queue, XDP_PASS);
	if (ctr) {
		ctr->seen++;
		if (action == XDP_REDIRECT)
			ctr->redirected++;
		else
			ctr->passed_no_socket++;
	}
	return action;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
