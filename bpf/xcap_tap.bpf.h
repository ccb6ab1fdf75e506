/* What the tap programs share (bpf/xcap_tap.bpf.c on XDP ingress,
 * bpf/xcap_tap_out.bpf.c on tcx egress): the per-CPU rings, the loss
 * counters, and xcap_tap_copy(), which writes one packet into the ring of
 * the CPU it runs on. See xcap_tap.bpf.c for why records are reserved from
 * a ladder of constant sizes and how wake-ups are decided.
 *
 * The includer defines XCAP_TAP_LOAD(ctx, dst, n) first: copy n (1 .. the
 * record's room) bytes from the packet's start to dst, 0 on success. */
#pragma once

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
 * lookup. The egress program counts everything in slot 0. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XCAP_MAX_QUEUES + 1);
	__type(key, __u32);
	__type(value, struct xcap_ring_counters);
} xcap_tap_counters SEC(".maps");

/* What one record says besides the bytes. */
struct xcap_tap_packet {
	__u64 nic_ts_ns;
	__u32 wire_len;
	__u32 ifindex;
	__u32 queue;
	__s32 action;
	__u32 flags;
};

static __always_inline void count_loss(struct xcap_ring_counters *ctr)
{
	__u32 key = XCAP_MAX_QUEUES;
	struct xcap_ring_counters *all = bpf_map_lookup_elem(&xcap_tap_counters, &key);

	ctr->ring_full++;
	if (all)
		all->ring_full++;
}

/* Reserves a record with room for `room` packet bytes (a constant at every
 * call site), stamps it, copies `cap` bytes into it and commits it. */
static __always_inline void record(void *ctx, void *ring, struct xcap_ring_counters *ctr, __u32 cap,
				   const struct xcap_tap_packet *p, const __u32 room)
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
	rec->wire_len = p->wire_len;
	rec->ifindex = p->ifindex;
	rec->rx_queue = p->queue;
	rec->prog_id = 0;
	rec->action = p->action;
	rec->flags = p->flags;
	rec->reserved = 0;
	rec->nic_ts_ns = p->nic_ts_ns;
	__u64 n = cap; /* 64-bit: a 32-bit copy would be compared in another register */
	/* Opaque to the compiler, so it keeps the bound the verifier needs
	 * (it knows cap <= room from the rung, the verifier does not). */
	asm volatile("" : "+r"(n));
	if (n > room)
		n = room;
	asm volatile("" : "+r"(n));
	/* A signed test: older verifiers (6.1) learn nothing from n != 0, but
	 * narrow the lower bound from a signed comparison. */
	if ((__s64)n < 1 || XCAP_TAP_LOAD(ctx, rec + 1, n) != 0)
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

#define XCAP_TAP_RUNG(ROOM)                                          \
	if (cap <= (ROOM)) {                                         \
		record(ctx, ring, ctr, cap, p, (ROOM));              \
		return;                                              \
	}

/* One record of the packet `p` describes, `cap` bytes of it (at most
 * XCAP_TAP_MAX_COPY), into the ring of this CPU; counted in `ctr`. */
static __always_inline void xcap_tap_copy(void *ctx, struct xcap_ring_counters *ctr, __u32 cap,
					  const struct xcap_tap_packet *p)
{
	__u32 cpu = bpf_get_smp_processor_id();
	void *ring = bpf_map_lookup_elem(&xcap_tap_rings, &cpu);
	if (!ring) {
		count_loss(ctr); /* a CPU that came online after the start has no ring */
		return;
	}
	XCAP_TAP_RUNG(64)
	XCAP_TAP_RUNG(128)
	XCAP_TAP_RUNG(256)
	XCAP_TAP_RUNG(512)
	XCAP_TAP_RUNG(1024)
	XCAP_TAP_RUNG(1536)
	XCAP_TAP_RUNG(2048)
	XCAP_TAP_RUNG(4096)
	XCAP_TAP_RUNG(9216)
	XCAP_TAP_RUNG(16384)
	XCAP_TAP_RUNG(XCAP_TAP_MAX_COPY)
}
