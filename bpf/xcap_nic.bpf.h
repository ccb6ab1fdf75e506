/* The per-CPU state of the device-bound entry program (bpf/xcap_nic.bpf.c)
 * as the programs after it see it, and untag(), which takes out a VLAN tag
 * the entry put into the frame, for every path on which the frame goes on
 * to the stack (XDP_PASS). Each object declares the map; user space hands
 * them all the same one (bpf_map__reuse_fd).
 *
 * The includer declares `const volatile __u8 xcap_untag_after` and
 * `xcap_nic_time` (rodata): 0 when no entry program runs in front (or it
 * reads no time stamps), and that code is dead. */
#pragma once

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "xcap_abi.h"

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xcap_nic_state);
} xcap_nic_state SEC(".maps");

/* The NIC's stamp of the packet under way, 0 when it gave none (or no entry
 * program asks for it: the includer's const volatile xcap_nic_time is 0). */
static __always_inline __u64 nic_time(void)
{
	if (!xcap_nic_time)
		return 0;
	__u32 zero = 0;
	struct xcap_nic_state *st = bpf_map_lookup_elem(&xcap_nic_state, &zero);
	return st && st->has_ts ? st->hw_ts_ns : 0;
}

static __always_inline void untag(struct xdp_md *ctx)
{
	if (!xcap_untag_after)
		return;
	__u32 zero = 0;
	struct xcap_nic_state *st = bpf_map_lookup_elem(&xcap_nic_state, &zero);
	if (!st || !st->tagged)
		return;
	st->tagged = 0;
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	if (data + 16 > end)
		return;
	__u16 *p = data;
	/* Backwards: every read is behind every write. */
#pragma unroll
	for (int i = 5; i >= 0; i--)
		p[i + 2] = p[i];
	bpf_xdp_adjust_head(ctx, 4);
}
