// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The capture program: redirect the packet to the AF_XDP socket bound to its
 * RX queue (pass it to the stack when no socket is bound there), count it
 * for its queue, and stamp the arrival time into the metadata area (or, where
 * the kernel refuses that, in front of the packet: xcap_meta_in_frame). A filter
 * entry program (filter/) may run first and tail-call this one; it leaves
 * metadata with its `cap` set, which is kept.
 *
 * Multi-buffer: the program is built as SEC("xdp.frags"), so a driver may
 * hand it a frame spread over several buffers (jumbo frames) and AF_XDP
 * sockets bound with XDP_USE_SG receive it as several descriptors. On a
 * kernel whose AF_XDP cannot do that (before 6.6) user space loads the same
 * program without BPF_F_XDP_HAS_FRAGS (xcap_rx_1buf). Either way a frame longer than
 * the sockets can take (xcap_max_len, set by user space; 0 = no limit) is
 * dropped here and counted as too_large, not left to the socket's anonymous
 * rx_dropped. */
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
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XCAP_MAX_QUEUES);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct xcap_queue_seq);
} xcap_seq SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xcap_rx_counters);
} xcap_counters SEC(".maps");

/* The doorbell: one small record (the queue) with a forced wake-up when a
 * queue's socket has gathered the batch the writer asked for (wake_at in
 * xcap_queue_seq). The writer sleeps on this ring's fd rather than on the
 * sockets, which would wake it at every packet, or on a timer, which cannot
 * know when a burst fills the ring: it wakes once per batch at any rate, and
 * at a sparse rate only when its latency bound runs out. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} xcap_doorbell SEC(".maps");

/* Set before load: 0 where the kernel lacks bpf_xdp_get_buff_len (before
 * 5.18; the call is then dead code the verifier never visits). The helper is
 * used even without BPF_F_XDP_HAS_FRAGS: a driver (veth) may still build a
 * multi-buffer frame and show such a program only its first buffer. */
const volatile __u8 xcap_buff_len = 1;
/* Set before load: 1 when a device-bound entry program may have put a VLAN
 * tag into the frame, which must come out again on XDP_PASS. */
const volatile __u8 xcap_untag_after = 0;
/* Set before load: 1 where the kernel refuses bpf_xdp_adjust_meta to XDP
 * programs (a hardened kernel may). The metadata then goes in front of the
 * packet, inside the frame the socket receives (bpf_xdp_adjust_head), and
 * user space takes it off again; a filter in front leaves none. The
 * verifier never visits the other way's helper call. */
const volatile __u8 xcap_meta_in_frame = 0;
const volatile __u8 xcap_nic_time = 0;
#include "xcap_nic.bpf.h"

/* The longest frame the sockets take; 0 = any. Written by user space once
 * the sockets are bound (a .bss variable, mapped). */
volatile __u32 xcap_max_len;

static __always_inline void stamp(struct xcap_meta *meta, __u64 now, __u32 queue, __u32 cap)
{
	meta->rx_ts_ns = now;
	meta->rx_queue = queue;
	meta->magic = XCAP_META_MAGIC;
	meta->cap = cap;
	meta->reserved = 0;
	meta->nic_ts_ns = nic_time();
}

static __always_inline int capture(struct xdp_md *ctx)
{
	__u32 queue = ctx->rx_queue_index;
	__u32 zero = 0;
	struct xcap_rx_counters *ctr = bpf_map_lookup_elem(&xcap_counters, &zero);

	/* The low bits of flags are the action when the queue has no socket. */
	long action = bpf_redirect_map(&xcap_xsks, queue, XDP_PASS);
	if (action != XDP_REDIRECT) {
		if (ctr) {
			ctr->seen++;
			ctr->passed_no_socket++;
		}
		if (action == XDP_PASS)
			untag(ctx);
		return action;
	}
	__u32 max_len = xcap_max_len;
	if (max_len) {
		/* Sockets without multi-buffer: a frame longer than one of their
		 * frames, or one a driver split over several buffers (which such
		 * a socket cannot take either; a driver may do so even for a
		 * program without frags), would be lost without a count. */
		__u32 linear = (__u32)(ctx->data_end - ctx->data);
		__u32 len = xcap_buff_len ? (__u32)bpf_xdp_get_buff_len(ctx) : linear;
		if (len > max_len || len != linear) {
			if (ctr) {
				ctr->seen++;
				ctr->too_large++;
			}
			return XDP_DROP;
		}
	}
	/* Room for the metadata in front: a driver leaves 256 bytes of headroom
	 * (XDP_PACKET_HEADROOM), so this fails only where it leaves less. Before
	 * the count: a packet not redirected must not be counted as issued. */
	if (xcap_meta_in_frame && bpf_xdp_adjust_head(ctx, -(int)sizeof(struct xcap_meta)) != 0) {
		if (ctr) {
			ctr->seen++;
			ctr->no_headroom++;
		}
		return XDP_DROP;
	}
	/* Count first, then read the clock: the writer's merge relies on every
	 * packet counted after it read `issued` being stamped after that read. */
	struct xcap_queue_seq *seq = bpf_map_lookup_elem(&xcap_seq, &queue);
	if (seq) {
		/* A full barrier, then wake_at: user space stores wake_at, then
		 * reads issued (a fence between), so either it sees this packet
		 * counted and does not sleep, or this packet sees its wake_at.
		 * Exact equality: one packet rings, whichever CPU counts it. */
		__u64 n = __sync_fetch_and_add(&seq->issued, 1) + 1;
		if (n == *(volatile __u64 *)&seq->wake_at)
			bpf_ringbuf_output(&xcap_doorbell, &queue, sizeof(queue), BPF_RB_FORCE_WAKEUP);
	}
	__u64 now = bpf_ktime_get_ns();

	if (xcap_meta_in_frame) {
		struct xcap_meta *first = (void *)(long)ctx->data;
		if ((void *)(first + 1) <= (void *)(long)ctx->data_end)
			stamp(first, now, queue, 0);
		goto count;
	}
	struct xcap_meta *meta = (void *)(long)ctx->data_meta;
	void *data = (void *)(long)ctx->data;
	__u32 cap = 0;
	if ((void *)(meta + 1) <= data && meta->magic == XCAP_META_MAGIC)
		cap = meta->cap;  /* left by a filter entry program */
	else if (bpf_xdp_adjust_meta(ctx, -(int)sizeof(struct xcap_meta)) != 0)
		goto count;
	meta = (void *)(long)ctx->data_meta;
	data = (void *)(long)ctx->data;
	if ((void *)(meta + 1) <= data)
		stamp(meta, now, queue, cap);
count:
	if (ctr) {
		ctr->seen++;
		ctr->redirected++;
	}
	return action;
}

/* The same program twice: with BPF_F_XDP_HAS_FRAGS, and without it for a
 * kernel whose AF_XDP has no multi-buffer (user space loads one of them;
 * libbpf adds the flag for the section at load time, so it cannot be taken
 * off one program). */
SEC("xdp.frags")
int xcap_rx(struct xdp_md *ctx)
{
	return capture(ctx);
}

SEC("xdp")
int xcap_rx_1buf(struct xdp_md *ctx)
{
	return capture(ctx);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
