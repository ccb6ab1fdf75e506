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
 * latency bound, instead of at the first record after it went to sleep. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "xcap_abi.h"

/* Set before load (rodata). */
const volatile __u32 snaplen = 262144;
/* The ring size of one CPU, in bytes (a power of two). */
const volatile __u64 ring_bytes = 1 << 24;
/* With lazy wake-ups, the fill level (bytes) whose crossing wakes the reader. */
const volatile __u64 wake_bytes = 1 << 20;
/* Written by user space (mapped .bss): 1 while the writer sleeps in batches. */
volatile __u32 xcap_lazy_wake;

/* The template of the per-CPU rings; the map itself is created by user
 * space and handed to libbpf (bpf_map__reuse_fd) before load. */
struct tap_ring {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 24);
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct tap_ring);
} xcap_tap_rings SEC(".maps");

/* Per RX queue (slot XCAP_MAX_QUEUES - 1 also takes the queues beyond it),
 * per CPU; slot XCAP_MAX_QUEUES counts only ring_full, over every queue, so
 * user space reads one CPU's losses (for its ring's epb_dropcount) with one
 * lookup. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XCAP_MAX_QUEUES + 1);
	__type(key, __u32);
	__type(value, struct xcap_ring_counters);
} xcap_tap_counters SEC(".maps");

/* Reserves a record with room for `room` packet bytes (a constant at every
 * call site), stamps it, copies `cap` bytes into it and commits it. */
static __always_inline void count_loss(struct xcap_ring_counters *ctr)
{
	__u32 key = XCAP_MAX_QUEUES;
	struct xcap_ring_counters *all = bpf_map_lookup_elem(&xcap_tap_counters, &key);

	ctr->ring_full++;
	if (all)
		all->ring_full++;
}

static __always_inline void record(struct xdp_md *ctx, void *ring, struct xcap_ring_counters *ctr, __u32 cap,
				   __u32 wire_len, const __u32 room)
{
	__u64 before = bpf_ringbuf_query(ring, BPF_RB_AVAIL_DATA);
	struct xcap_ring_record *rec = bpf_ringbuf_reserve(ring, sizeof(*rec) + room, 0);
	if (!rec) {
		count_loss(ctr);
		return;
	}
	/* After the reservation: see ringbuf_source.h, the quiet rule. */
	rec->ts_ns = bpf_ktime_get_ns();
	rec->packet_id = 0;
	rec->wire_len = wire_len;
	rec->ifindex = ctx->ingress_ifindex;
	rec->rx_queue = ctx->rx_queue_index;
	rec->prog_id = 0;
	rec->action = XDP_PASS;
	rec->flags = XCAP_RECORD_TAP;
	rec->reserved = 0;
	__u64 n = cap; /* 64-bit: a 32-bit copy would be compared in another register */
	/* Opaque to the compiler, so it keeps the bound the verifier needs
	 * (it knows cap <= room from the rung, the verifier does not). */
	asm volatile("" : "+r"(n));
	if (n > room)
		n = room;
	asm volatile("" : "+r"(n));
	/* A signed test: older verifiers (6.1) learn nothing from n != 0, but
	 * narrow the lower bound from a signed comparison. */
	if ((__s64)n < 1 || bpf_xdp_load_bytes(ctx, 0, rec + 1, n) != 0)
		n = 0; /* cannot happen (n <= the packet's length); the record says so */
	rec->cap_len = n;

	__u64 half = ring_bytes / 2;
	__u64 after = before + sizeof(*rec) + room + 8;
	__u64 flags = 0;
	if ((before < half && after >= half) || (before < wake_bytes && after >= wake_bytes))
		flags = BPF_RB_FORCE_WAKEUP;
	else if (xcap_lazy_wake)
		flags = BPF_RB_NO_WAKEUP;
	bpf_ringbuf_submit(rec, flags);
	ctr->recorded++;
}

#define RUNG(ROOM)                                                   \
	if (cap <= (ROOM)) {                                         \
		record(ctx, ring, ctr, cap, wire_len, (ROOM));       \
		return XDP_PASS;                                     \
	}

SEC("xdp.frags")
int xcap_tap(struct xdp_md *ctx)
{
	__u32 queue = ctx->rx_queue_index;
	if (queue >= XCAP_MAX_QUEUES)
		queue = XCAP_MAX_QUEUES - 1;
	struct xcap_ring_counters *ctr = bpf_map_lookup_elem(&xcap_tap_counters, &queue);
	if (!ctr)
		return XDP_PASS;
	ctr->seen++;

	__u32 wire_len = bpf_xdp_get_buff_len(ctx);
	__u32 cap = wire_len;
	if (cap > snaplen)
		cap = snaplen;
	struct xcap_meta *meta = (void *)(long)ctx->data_meta;
	void *data = (void *)(long)ctx->data;
	if ((void *)(meta + 1) <= data && meta->magic == XCAP_META_MAGIC && meta->cap && meta->cap < cap)
		cap = meta->cap; /* a filter's `ret k` */
	if (cap > XCAP_TAP_MAX_COPY)
		cap = XCAP_TAP_MAX_COPY;

	__u32 cpu = bpf_get_smp_processor_id();
	void *ring = bpf_map_lookup_elem(&xcap_tap_rings, &cpu);
	if (!ring) {
		count_loss(ctr); /* a CPU that came online after the start has no ring */
		return XDP_PASS;
	}
	RUNG(64)
	RUNG(128)
	RUNG(256)
	RUNG(512)
	RUNG(1024)
	RUNG(1536)
	RUNG(2048)
	RUNG(4096)
	RUNG(9216)
	RUNG(16384)
	RUNG(XCAP_TAP_MAX_COPY)
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
