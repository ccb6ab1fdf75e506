// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The trace recorders' classic BPF interpreter (bpf/xcap_cbpf.bpf.h) in an
 * XDP program of its own, for BPF_PROG_RUN (tests/unit/cbpf_test.cc and
 * bench/trace_filter): it copies up to `snaplen` bytes of the frame (every
 * fragment readable) as the recorders copy up to theirs, runs the filter,
 * and leaves its result in `result`. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define XCAP_LOAD(src, dst, n) bpf_xdp_load_bytes((struct xdp_md *)(src), 0, (dst), (n))
#include "xcap_cbpf.bpf.h"

__u32 snaplen = XCAP_TRACE_MAX_CAP; /* bytes the filter sees at most */
__u32 result;                        /* the last run's result k (0: no match) */

SEC("xdp.frags")
int cbpf_run(struct xdp_md *ctx)
{
	__u32 len = (__u32)bpf_xdp_get_buff_len(ctx);
	__u32 copy = len < snaplen ? len : snaplen;
	result = xcap_cbpf_run(ctx, copy, len, ctx->ingress_ifindex, ctx->rx_queue_index);
	return result ? XDP_PASS : XDP_DROP;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
