// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The tap program: copy each packet (up to the snaplen, every fragment of a
 * multi-buffer packet included) with its arrival stamp, queue and length into
 * the BPF ring buffer of the CPU it runs on, and let it go on to the stack:
 * it returns XDP_PASS, always. A filter entry program (filter/) may run first
 * and tail-call this one on a match; its metadata `cap` is kept.
 *
 * One ring per CPU (an ARRAY_OF_MAPS indexed by CPU, filled by user space,
 * shared by the instances of this program on every captured interface): XDP
 * does not nest on a CPU, so each ring has one producer and keeps the order
 * of its stamps, and the writer merges the rings by time. One ring shared by
 * every CPU would put two CPUs' records in reservation order while their
 * stamps, read after the reservation, can be the other way round.
 *
 * How a record gets its bytes. bpf_ringbuf_reserve needs a size the verifier
 * knows; a packet's length is only known at run time. The choices:
 * - one fixed reservation of the largest record (header + 64 KiB): a 64-byte
 *   packet would take 64 KiB of ring, so a 16 MiB ring would hold 256
 *   packets, not a burst;
 * - bpf_ringbuf_output from a per-CPU scratch buffer: exact sizes, but every
 *   byte is copied twice, and the reservation happens inside the helper,
 *   after the stamp was written, which breaks the rule the writer's merge
 *   relies on (reserve first, then read the clock: ringbuf_source.h);
 * - what this program does: a reservation from a ladder of constant sizes
 *   (the smallest that holds the packet's copy; each rung is its own
 *   bpf_ringbuf_reserve call with a constant), the stamp read after it, and
 *   the bytes loaded straight into the record by bpf_xdp_load_bytes: one
 *   copy, and at most a rung's step of slack (1514-byte frames fit the 1536
 *   rung with 22 bytes to spare; 60-byte ones the 64 rung).
 *
 * Wake-ups. The commit passes no flag while the ring stays below half full:
 * the kernel then wakes the reader only when it had consumed everything
 * before this record (it compares the live consumer position with the
 * record's, at commit), which is BPF_RB_NO_WAKEUP for every other record. So
 * a writer asleep in poll() on the ring is woken by the first record after it
 * went to sleep, and a writer that is busy or napping is not woken at all. A
 * decision taken here from bpf_ringbuf_query before the reservation could
 * see a consumer position that is stale by the time of the commit and leave
 * the reader asleep with a record in the ring. The record that takes the ring
 * past half full forces a wake-up (BPF_RB_FORCE_WAKEUP), once per crossing.
 *
 * Lazy wake-ups (xcap_lazy_wake, set by the writer while it sleeps in
 * batches, see capture/writer.h): every commit passes BPF_RB_NO_WAKEUP but
 * the one that takes the ring past wake_bytes (or half full), which forces
 * one. The writer then wakes once per wake_bytes of records, or on its
 * latency bound, instead of at the first record after it went to sleep.
 *
 * VLAN (with the device-bound entry program, bpf/xcap_nic.bpf.c): when the
 * entry put a tag the driver had taken off back into the frame, the record
 * is copied with it and the tag is taken out again before XDP_PASS, so the
 * stack gets the frame as the driver gave it. A packet the filter rejects
 * comes to xcap_untag (bpf/xcap_nic.bpf.c) instead. */
#define XCAP_TAP_LOAD(ctx, dst, n) bpf_xdp_load_bytes((struct xdp_md *)(ctx), 0, (dst), (n))
#include "xcap_tap.bpf.h"

/* Set before load: 1 when a device-bound entry program may have put a VLAN
 * tag into the frame. */
const volatile __u8 xcap_untag_after = 0;
const volatile __u8 xcap_nic_time = 0;
#include "xcap_nic.bpf.h"

static __always_inline void tap(struct xdp_md *ctx)
{
	__u32 queue = ctx->rx_queue_index;
	if (queue >= XCAP_MAX_QUEUES)
		queue = XCAP_MAX_QUEUES - 1;
	struct xcap_ring_counters *ctr = bpf_map_lookup_elem(&xcap_tap_counters, &queue);
	if (!ctr)
		return;
	ctr->seen++;

	struct xcap_tap_packet p = {
		.nic_ts_ns = nic_time(),
		.wire_len = bpf_xdp_get_buff_len(ctx),
		.ifindex = ctx->ingress_ifindex,
		.queue = ctx->rx_queue_index,
		.action = XDP_PASS,
		.flags = XCAP_RECORD_TAP,
	};
	__u32 cap = p.wire_len;
	if (cap > snaplen)
		cap = snaplen;
	struct xcap_meta *meta = (void *)(long)ctx->data_meta;
	void *data = (void *)(long)ctx->data;
	if ((void *)(meta + 1) <= data && meta->magic == XCAP_META_MAGIC && meta->cap && meta->cap < cap)
		cap = meta->cap; /* a filter's `ret k` */
	if (cap > XCAP_TAP_MAX_COPY)
		cap = XCAP_TAP_MAX_COPY;
	xcap_tap_copy(ctx, ctr, cap, &p);
}

SEC("xdp.frags")
int xcap_tap(struct xdp_md *ctx)
{
	tap(ctx);
	untag(ctx);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
