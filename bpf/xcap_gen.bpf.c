// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The load generator's program, run by BPF_PROG_RUN with
 * BPF_F_TEST_XDP_LIVE_FRAMES: numbers each frame and sends it out of the
 * interface named as the run's ingress (XDP_TX). On a veth, the frame lands
 * on the peer's RX queue numbered by the sending CPU. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

/* Where in the frame the 32-bit sequence number goes: the first payload
 * byte of the UDP template (14 + 20 + 8). */
#define XCAP_GEN_SEQ_OFFSET 42

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} xcap_gen_sent SEC(".maps");

/* Added to every sequence number, so several runs or CPUs do not collide. */
const volatile __u32 seq_base = 0;

/* When non-zero, the UDP destination port of the n-th frame (this CPU's
 * count) is 9 + n % dport_span, so that a filter on one port matches one
 * frame in dport_span. The template's port is 9; the UDP checksum is 0
 * (none), so nothing else changes. */
const volatile __u32 dport_span = 0;
#define XCAP_GEN_DPORT_OFFSET 36

SEC("xdp")
int xcap_gen(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u32 zero = 0;
	__u64 *sent = bpf_map_lookup_elem(&xcap_gen_sent, &zero);
	__u32 *seq = data + XCAP_GEN_SEQ_OFFSET;

	if (!sent)
		return XDP_DROP;
	if ((void *)(seq + 1) <= end)
		*seq = bpf_htonl(seq_base + (__u32)*sent);
	if (dport_span) {
		__u16 *dport = data + XCAP_GEN_DPORT_OFFSET;

		if ((void *)(dport + 1) <= end)
			*dport = bpf_htons(9 + (__u16)(*sent % dport_span));
	}
	*sent += 1;
	return XDP_TX;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
