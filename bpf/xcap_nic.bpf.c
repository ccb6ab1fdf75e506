// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The device-bound entry program: what a real NIC hands beside the frame,
 * read through the XDP RX metadata kfuncs, which only a program bound to the
 * device (BPF_F_XDP_DEV_BOUND_ONLY, the program's ifindex) may call.
 *
 * VLAN: a NIC with rx-vlan-offload takes the 802.1Q tag off the frame and
 * gives it beside it. This program puts it back where it was on the wire,
 * after the two MAC addresses (bpf_xdp_adjust_head makes the 4 bytes of
 * room), before anything else looks at the frame, so the filter that runs
 * next sees `vlan 100` as tcpdump's filter does, and the record carries the
 * tag as libpcap writes it for AF_PACKET's tp_vlan_tci. Where the frame goes
 * on to the stack (--tap), the program that runs last takes the tag out
 * again (xcap_nic_state.tagged says it must; see xcap_nic.bpf.h): the stack
 * gets the frame as the driver gave it, on every path (the capture program's
 * XDP_PASS, the tap program, xcap_untag for what the filter rejects).
 *
 * Time stamps: with want_ts, the NIC's receive time stamp of the packet, if
 * it gives one, goes into xcap_nic_state for the capture program.
 *
 * Then it tail-calls slot 0 of xcap_nic_next (the filter, or the capture
 * program). A device-bound program may tail-call, but may not be tail-called
 * itself: that is why it is the entry of the chain. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "xcap_abi.h"

extern int bpf_xdp_metadata_rx_vlan_tag(const struct xdp_md *ctx, __be16 *vlan_proto, __u16 *vlan_tci) __ksym __weak;
extern int bpf_xdp_metadata_rx_timestamp(const struct xdp_md *ctx, __u64 *timestamp) __ksym __weak;

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} xcap_nic_next SEC(".maps");

const volatile __u8 xcap_untag_after = 1;
const volatile __u8 xcap_nic_time = 0;
#include "xcap_nic.bpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xcap_nic_counters);
} xcap_nic_counters SEC(".maps");

/* Set before load. */
const volatile __u8 want_vlan = 1;
const volatile __u8 want_ts = 0;

/* Moves the MAC addresses 4 bytes towards the head and writes the tag after
 * them; 0 on success, the frame unchanged otherwise. */
static __always_inline int put_tag_back(struct xdp_md *ctx, __be16 proto, __u16 tci)
{
	if (bpf_xdp_adjust_head(ctx, -4) != 0)
		return -1;
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	if (data + 16 > end) {
		bpf_xdp_adjust_head(ctx, 4);
		return -1;
	}
	__u16 *p = data;
	/* Forwards, 2 bytes at a time: every read is ahead of every write. */
#pragma unroll
	for (int i = 0; i < 6; i++)
		p[i] = p[i + 2];
	p[6] = proto;
	p[7] = bpf_htons(tci);
	return 0;
}

static __always_inline int entry(struct xdp_md *ctx)
{
	__u32 zero = 0;
	struct xcap_nic_state *st = bpf_map_lookup_elem(&xcap_nic_state, &zero);
	struct xcap_nic_counters *ctr = bpf_map_lookup_elem(&xcap_nic_counters, &zero);
	if (!st || !ctr)
		goto next;
	ctr->seen++;
	st->tagged = 0;
	st->has_ts = 0;
	if (want_ts) {
		__u64 ts = 0;
		if (bpf_xdp_metadata_rx_timestamp(ctx, &ts) == 0 && ts) {
			st->hw_ts_ns = ts;
			st->has_ts = 1;
			ctr->ts_nic++;
		} else {
			ctr->ts_missing++;
		}
	}
	if (want_vlan) {
		__be16 proto = 0;
		__u16 tci = 0;
		if (bpf_xdp_metadata_rx_vlan_tag(ctx, &proto, &tci) == 0) {
			if (put_tag_back(ctx, proto, tci) == 0) {
				st->tagged = 1;
				ctr->vlan_restored++;
			} else {
				ctr->vlan_no_room++;
			}
		}
	}
next:
	bpf_tail_call(ctx, &xcap_nic_next, 0);
	return XDP_PASS; /* slot 0 empty: cannot happen while attached */
}

/* The same program with and without BPF_F_XDP_HAS_FRAGS (user space loads
 * the one whose setting matches the program it tail-calls). */
SEC("xdp.frags")
int xcap_nic(struct xdp_md *ctx)
{
	return entry(ctx);
}

SEC("xdp")
int xcap_nic_1buf(struct xdp_md *ctx)
{
	return entry(ctx);
}

/* Not device-bound: the filter tail-calls it (its second slot) for a packet
 * it rejects, which goes on to the stack without the tag the entry put in. */
SEC("xdp.frags")
int xcap_untag(struct xdp_md *ctx)
{
	untag(ctx);
	return XDP_PASS;
}

SEC("xdp")
int xcap_untag_1buf(struct xdp_md *ctx)
{
	untag(ctx);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
