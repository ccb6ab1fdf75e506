/* What every trace recorder (bpf/xcap_trace.bpf.c: fentry/fexit;
 * bpf/xcap_hook.bpf.c: xdpcap-style hook programs) shares: the ring buffer,
 * the per-CPU counters, and xcap_record(), which copies one packet into the
 * ring as an xcap_ring_record (bpf/xcap_abi.h).
 *
 * The includer defines XCAP_LOAD(src, dst, n) first: copy n (> 0, at most the
 * room in dst) packet bytes from `src` to `dst`, 0 on success.
 *
 * Why size classes: bpf_ringbuf_reserve() takes a constant size, and the
 * alternatives both cost more. Reserving the largest record for every packet
 * would make a 64-byte packet take 16 KiB of ring (a 4 MiB ring would hold
 * 256 packets); bpf_ringbuf_output() from a per-CPU scratch buffer takes
 * only the bytes needed but copies every packet twice, and it reserves inside
 * the helper, after the record's time was read, which breaks the writer's
 * merge rule (reserve first, then read the clock: see
 * sources/ringbuf_source.h). So the record is reserved in the smallest of a
 * few constant sizes that holds the packet (a branch per class, each with its
 * constant): at most about 4x the bytes, one copy, reserved before the clock
 * is read. */
#pragma once

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "xcap_abi.h"

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20); /* user space sets it (--ring-size) */
} xcap_ring SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xcap_ring_counters);
} xcap_ring_ctr SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xcap_trace_actions);
} xcap_actions SEC(".maps");

/* Bytes to keep of each packet (-s), at most XCAP_TRACE_MAX_CAP. */
const volatile __u32 xcap_snaplen = XCAP_TRACE_MAX_CAP;

struct xcap_record_args {
	void *src;        /* what XCAP_LOAD reads from */
	__u64 packet_id;
	__u32 len;        /* bytes XCAP_LOAD can read */
	__u32 wire_len;
	__u32 ifindex;
	__u32 rx_queue;
	__u32 prog_id;
	__s32 action;
	__u32 flags;
};

static __always_inline struct xcap_ring_counters *xcap_counters(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&xcap_ring_ctr, &zero);
}

static __always_inline void xcap_count_action(__s32 action)
{
	__u32 zero = 0;
	struct xcap_trace_actions *a = bpf_map_lookup_elem(&xcap_actions, &zero);
	if (!a)
		return;
	__u32 i = action >= 0 && action < XCAP_XDP_ACTIONS ? (__u32)action : XCAP_XDP_ACTIONS;
	if (i <= XCAP_XDP_ACTIONS)
		a->count[i]++;
}

#define XCAP_RECORD_CLASS(N)                                                                   \
	if (cap <= (N)) {                                                                      \
		struct {                                                                       \
			struct xcap_ring_record h;                                             \
			__u8 b[(N)];                                                           \
		} *r = bpf_ringbuf_reserve(&xcap_ring, sizeof(*r), 0);                         \
		if (!r) {                                                                      \
			ctr->ring_full++;                                                      \
			return;                                                                \
		}                                                                              \
		/* Reserved first, then the clock (the merge's rule). */                     \
		r->h.ts_ns = bpf_ktime_get_ns();                                               \
		r->h.packet_id = a->packet_id;                                                 \
		r->h.wire_len = a->wire_len;                                                   \
		r->h.cap_len = cap;                                                            \
		r->h.ifindex = a->ifindex;                                                     \
		r->h.rx_queue = a->rx_queue;                                                   \
		r->h.prog_id = a->prog_id;                                                     \
		r->h.action = a->action;                                                       \
		r->h.flags = a->flags;                                                         \
		r->h.reserved = 0;                                                             \
		r->h.nic_ts_ns = 0;                                                            \
		/* The verifier must see 1 <= n <= N on the register it passes, */    \
		/* and older ones (6.1) learn no lower bound from n != 0: a copy */   \
		/* hidden from the compiler (which would drop the mask), then */      \
		/* ((n - 1) & (N - 1)) + 1, which is n itself for 1 <= n <= N. */     \
		__u64 n = cap;                                                                 \
		asm volatile("" : "+r"(n));                                                    \
		if (n > 0 && XCAP_LOAD(a->src, r->b, ((n - 1) & ((N) - 1)) + 1) != 0)          \
			r->h.cap_len = 0;                                                      \
		bpf_ringbuf_submit(r, 0);                                                      \
		ctr->recorded++;                                                               \
		return;                                                                        \
	}

/* One record for the packet `a` describes; counts it recorded or ring_full. */
static __always_inline void xcap_record(struct xcap_ring_counters *ctr, const struct xcap_record_args *a)
{
	__u32 cap = a->len;
	if (cap > xcap_snaplen)
		cap = xcap_snaplen;
	if (cap > XCAP_TRACE_MAX_CAP)
		cap = XCAP_TRACE_MAX_CAP;
	XCAP_RECORD_CLASS(128)
	XCAP_RECORD_CLASS(512)
	XCAP_RECORD_CLASS(2048)
	XCAP_RECORD_CLASS(XCAP_TRACE_MAX_CAP)
}
