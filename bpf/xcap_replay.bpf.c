// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* xcap replay --xdp-tx: run by BPF_PROG_RUN with BPF_F_TEST_XDP_LIVE_FRAMES,
 * once per packet to send. Each run takes the next packet of the capture
 * from an array map (a slot per packet, filled by user space through an
 * mmap), sizes the live frame to it, copies it in and returns XDP_TX, which
 * in live-frame mode sends the frame out of the run's ingress interface
 * (ndo_xdp_xmit): no skb per packet. One CPU runs it, so the packets go out
 * in the file's order. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "xcap_abi.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1);          /* set by user space: a slot per packet */
	/* By size, not BTF type: user space resizes the value to the largest
	 * packet, and a BTF value type of another size makes the kernel refuse
	 * the map (libbpf then retries without BTF, saying so with -v). */
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(struct xcap_replay_slot));
} xcap_replay_packets SEC(".maps");

/* Packets in the map, and the most bytes a slot holds (its value size less
 * the header): known to the verifier once the read-only data is frozen. */
const volatile __u32 packet_count = 1;
const volatile __u32 slot_bytes = XCAP_REPLAY_MIN_SLOT;

/* Written by this program only (one CPU runs it), read by user space. */
__u64 next_packet = 0;
__u64 sent = 0;
__u64 sent_bytes = 0;
__u64 failed = 0;

SEC("xdp")
int xcap_replay(struct xdp_md *ctx)
{
	__u32 idx = (__u32)(next_packet % packet_count);
	struct xcap_replay_slot *slot;
	__u32 len, have;
	int delta;

	next_packet++;
	slot = bpf_map_lookup_elem(&xcap_replay_packets, &idx);
	if (!slot)
		goto fail;
	len = slot->len;
	if (len < 14 || len > slot_bytes || len > XCAP_REPLAY_MAX_FRAME)
		goto fail;
	have = (__u32)(ctx->data_end - ctx->data);
	delta = (int)len - (int)have;
	if (delta && bpf_xdp_adjust_tail(ctx, delta))
		goto fail;
	if (bpf_xdp_store_bytes(ctx, 0, slot->data, len))
		goto fail;
	sent++;
	sent_bytes += len;
	return XDP_TX;
fail:
	failed++;
	return XDP_DROP;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
