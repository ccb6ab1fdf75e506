// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* xcap trace --hook: one program per XDP action, loaded into the slots of an
 * xdpcap-style hook map (a PROG_ARRAY the user's program tail-calls with its
 * action as the index, returning that action itself when the slot is empty).
 * Each records the packet as the user's program leaves it, with the action,
 * and returns that action, so the packet goes where it was going.
 *
 * A filter expression (xcap_cbpf.bpf.h) runs on the packet as the hook
 * sees it; one that does not match is counted (filtered), not recorded, and
 * goes on with its action all the same.
 *
 * Program names start with "xcap_hook_": user space finds leftovers of a
 * killed xcap by that name. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

/* Multi-buffer packets included: bpf_xdp_load_bytes reads across fragments. */
#define XCAP_LOAD(src, dst, n) bpf_xdp_load_bytes((struct xdp_md *)(src), 0, (dst), (n))
#include "xcap_record.bpf.h"
#include "xcap_cbpf.bpf.h"

static __always_inline int hook(struct xdp_md *ctx, int action)
{
	struct xcap_ring_counters *ctr = xcap_counters();
	if (!ctr)
		return action;
	ctr->seen++;
	xcap_count_action(action);
	struct xcap_record_args a = {
		.src = ctx,
		.packet_id = 0,  /* one record per packet: the writer numbers them */
		.len = (__u32)bpf_xdp_get_buff_len(ctx),
		.ifindex = ctx->ingress_ifindex,
		.rx_queue = ctx->rx_queue_index,
		.prog_id = 0,
		.action = action,
		.flags = XCAP_RECORD_EXIT,
	};
	a.wire_len = a.len;
	__u32 copy = a.len < xcap_snaplen ? a.len : xcap_snaplen;
	__u32 k = xcap_cbpf_run(ctx, copy, a.wire_len, a.ifindex, a.rx_queue);
	if (!k) {
		ctr->filtered++;
		return action;
	}
	if (k < a.len)
		a.len = k; /* a classic `ret k` below the length cuts the record there */
	xcap_record(ctr, &a);
	return action;
}

SEC("xdp")
int xcap_hook_abort(struct xdp_md *ctx) { return hook(ctx, XDP_ABORTED); }
SEC("xdp")
int xcap_hook_drop(struct xdp_md *ctx) { return hook(ctx, XDP_DROP); }
SEC("xdp")
int xcap_hook_pass(struct xdp_md *ctx) { return hook(ctx, XDP_PASS); }
SEC("xdp")
int xcap_hook_tx(struct xdp_md *ctx) { return hook(ctx, XDP_TX); }
SEC("xdp")
int xcap_hook_redir(struct xdp_md *ctx) { return hook(ctx, XDP_REDIRECT); }

char LICENSE[] SEC("license") = "Dual BSD/GPL";
