// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* xcap trace: fentry and fexit programs on an XDP program that is already
 * attached (the user's), in the manner of xdpdump. The entry program records
 * the packet as the XDP program receives it (action -1), the exit program as
 * it leaves it, with the action it returned. The attach target is set from
 * user space before load (bpf_program__set_attach_target with the traced
 * program's fd and function name), so the sections name none; one instance
 * of this object is loaded per traced program, all sharing one ring.
 *
 * Packet bytes are read from the xdp_buff with bpf_probe_read_kernel. A
 * multi-buffer packet (XDP_FLAGS_HAS_FRAGS; a program loaded as xdp.frags)
 * keeps its fragments in the skb_shared_info at the end of its first buffer:
 * wire_len is the linear part plus xdp_frags_size, and the fragments' bytes
 * are gathered with the linear part into a per-CPU buffer (up to the
 * snaplen) before the record is taken. An fentry program cannot call
 * bpf_xdp_load_bytes, and a fragment is a struct page: its bytes are read
 * at the page's address in the kernel's direct map, page_offset_base +
 * (page - vmemmap_base) / sizeof(struct page) * PAGE_SIZE (x86-64 with
 * SPARSEMEM_VMEMMAP; both bases are kernel variables, read through untyped
 * __ksym addresses, which libbpf takes from /proc/kallsyms). Where they are
 * missing, a record holds the linear part and still says the whole length.
 *
 * A filter expression (xcap_cbpf.bpf.h) runs where a packet is first seen:
 * at entry, or at exit when no entry program is loaded (--at exit). A packet
 * that does not match is counted (filtered) and recorded neither at entry
 * nor at exit: the entry leaves its verdict in the CPU's xcap_pairs slot for
 * the exit of the same run. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#define XCAP_LOAD(src, dst, n) bpf_probe_read_kernel((dst), (n), (src))
#include "xcap_record.bpf.h"
#include "xcap_cbpf.bpf.h"

/* The few kernel fields read here, relocated by CO-RE against the running
 * kernel's BTF. */
struct net_device {
	int ifindex;
} __attribute__((preserve_access_index));

struct xdp_rxq_info {
	struct net_device *dev;
	__u32 queue_index;
} __attribute__((preserve_access_index));

struct xdp_buff {
	void *data;
	void *data_end;
	void *data_hard_start;
	struct xdp_rxq_info *rxq;
	__u32 frame_sz;
	__u32 flags; /* 5.18+: XDP_FLAGS_HAS_FRAGS */
} __attribute__((preserve_access_index));

/* A fragment: struct bio_vec until 6.4 (skb_frag_t is a typedef of it),
 * struct skb_frag with a page (bv_*) or, from 6.8, a netmem_ref (whose low
 * bit marks memory that is not a page; never an XDP fragment's). Only their
 * field offsets are used, relocated; the three have the same shape. */
struct bio_vec {
	void *bv_page;
	unsigned int bv_len;
	unsigned int bv_offset;
} __attribute__((preserve_access_index));

struct skb_frag___page {
	void *bv_page;
	unsigned int bv_len;
	unsigned int bv_offset;
} __attribute__((preserve_access_index));

struct skb_frag___netmem {
	unsigned long netmem;
	unsigned int len;
	unsigned int offset;
} __attribute__((preserve_access_index));

typedef struct bio_vec skb_frag_t;

struct skb_shared_info {
	__u8 nr_frags;
	unsigned int xdp_frags_size;
	skb_frag_t frags[17];
} __attribute__((preserve_access_index));

struct page {
	unsigned long flags;
} __attribute__((preserve_access_index));

#define XCAP_XDP_FLAGS_HAS_FRAGS 0x1 /* enum xdp_buff_flags */
#define XCAP_SMP_CACHE_BYTES 64      /* x86-64: SKB_DATA_ALIGN's alignment */
#define XCAP_PAGE_SHIFT 12
/* Fragments read per packet at most: MAX_SKB_FRAGS' default (17). */
#define XCAP_MAX_FRAGS 17

extern const void vmemmap_base __ksym __weak;
extern const void page_offset_base __ksym __weak;

/* Where a multi-buffer packet is gathered: the linear part, then each
 * fragment, up to XCAP_TRACE_MAX_CAP bytes. Twice that size, so that the
 * verifier sees every copy in bounds (an offset below the cap plus a length
 * up to the cap). */
struct xcap_gather {
	__u8 b[2 * XCAP_TRACE_MAX_CAP];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xcap_gather);
} xcap_gather_buf SEC(".maps");

/* Set before load. */
const volatile __u32 traced_prog_id = 0;
const volatile __u8 with_entry = 1; /* the entry program is loaded: it counts packets and makes the pair ids */

/* Per CPU: the id of the packet the traced program is running for, and the
 * filter's result for it (0: no match, not recorded at exit either). An XDP
 * program runs to its end on one CPU without another packet in between, so
 * the entry and exit of one run see the same slot. */
struct xcap_pair {
	__u64 seq;
	__u64 current;
	__u32 match;
	__u32 reserved;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xcap_pair);
} xcap_pairs SEC(".maps");

static __always_inline __u64 next_id(struct xcap_pair *p)
{
	p->seq++;
	/* The CPU in the top 16 bits: ids are unique across CPUs, never 0. */
	p->current = ((__u64)(bpf_get_smp_processor_id() + 1) << 48) | (p->seq & 0xffffffffffffull);
	return p->current;
}

/* Copies n (1 .. XCAP_TRACE_MAX_CAP) bytes from kernel address src to
 * g->b + off (off < XCAP_TRACE_MAX_CAP); 0 on success. */
static __always_inline long gather_copy(struct xcap_gather *g, __u32 off, const void *src, __u32 n)
{
	__u64 o = off, len = n;
	asm volatile("" : "+r"(o), "+r"(len));
	if (len == 0)
		return -1;
	return bpf_probe_read_kernel(&g->b[o & (XCAP_TRACE_MAX_CAP - 1)], ((len - 1) & (XCAP_TRACE_MAX_CAP - 1)) + 1, src);
}

/* The kernel address of fragment i's bytes and their length; 0 when it
 * cannot be had. */
static __always_inline const void *fragment(const void *frags, __u32 i, __u32 *len)
{
	const __u32 size = bpf_core_type_size(skb_frag_t);
	__u32 page_off, len_off, off_off;
	int netmem = 0;
	if (bpf_core_type_exists(struct skb_frag___netmem) && bpf_core_field_exists(struct skb_frag___netmem, netmem)) {
		page_off = bpf_core_field_offset(struct skb_frag___netmem, netmem);
		len_off = bpf_core_field_offset(struct skb_frag___netmem, len);
		off_off = bpf_core_field_offset(struct skb_frag___netmem, offset);
		netmem = 1;
	} else if (bpf_core_type_exists(struct skb_frag___page)) {
		page_off = bpf_core_field_offset(struct skb_frag___page, bv_page);
		len_off = bpf_core_field_offset(struct skb_frag___page, bv_len);
		off_off = bpf_core_field_offset(struct skb_frag___page, bv_offset);
	} else {
		page_off = bpf_core_field_offset(struct bio_vec, bv_page);
		len_off = bpf_core_field_offset(struct bio_vec, bv_len);
		off_off = bpf_core_field_offset(struct bio_vec, bv_offset);
	}
	const void *f = frags + (__u64)i * size;
	unsigned long page = 0, vmemmap = 0, direct = 0;
	__u32 offset = 0;
	if (bpf_probe_read_kernel(&page, sizeof(page), f + page_off) ||
	    bpf_probe_read_kernel(len, sizeof(*len), f + len_off) ||
	    bpf_probe_read_kernel(&offset, sizeof(offset), f + off_off) ||
	    bpf_probe_read_kernel(&vmemmap, sizeof(vmemmap), &vmemmap_base) ||
	    bpf_probe_read_kernel(&direct, sizeof(direct), &page_offset_base))
		return 0;
	if (netmem)
		page &= ~1ul;
	const unsigned long page_size = bpf_core_type_size(struct page);
	if (!page || !vmemmap || !direct || page < vmemmap || !page_size)
		return 0;
	return (const void *)(direct + (((page - vmemmap) / page_size) << XCAP_PAGE_SHIFT) + offset);
}

/* A multi-buffer packet: its whole length, and its first `want` bytes
 * gathered into the CPU's buffer (*got of them; 0 when nothing could be). */
static __always_inline struct xcap_gather *gather(struct xdp_buff *xdp, void *data, __u32 linear, __u32 want,
						  __u32 *wire, __u32 *got)
{
	*got = 0;
	void *hard_start = BPF_CORE_READ(xdp, data_hard_start);
	__u32 frame_sz = BPF_CORE_READ(xdp, frame_sz);
	const __u32 info_size =
		(bpf_core_type_size(struct skb_shared_info) + XCAP_SMP_CACHE_BYTES - 1) & ~(XCAP_SMP_CACHE_BYTES - 1);
	if (!hard_start || frame_sz < info_size)
		return 0;
	struct skb_shared_info *sinfo = hard_start + frame_sz - info_size;
	__u32 frags_size = BPF_CORE_READ(sinfo, xdp_frags_size);
	__u8 nr_frags = BPF_CORE_READ(sinfo, nr_frags);
	*wire = linear + frags_size;
	if (want > *wire)
		want = *wire;
	if (want > XCAP_TRACE_MAX_CAP)
		want = XCAP_TRACE_MAX_CAP;
	__u32 zero = 0;
	struct xcap_gather *g = bpf_map_lookup_elem(&xcap_gather_buf, &zero);
	if (!g || want == 0)
		return 0;
	__u32 off = linear < want ? linear : want;
	if (off > 0 && gather_copy(g, 0, data, off))
		return 0;
	const void *frags = (const void *)sinfo + bpf_core_field_offset(struct skb_shared_info, frags);
	for (__u32 i = 0; i < XCAP_MAX_FRAGS; i++) {
		if (i >= nr_frags || off >= want)
			break;
		__u32 len = 0;
		const void *src = fragment(frags, i, &len);
		if (!src)
			break;
		if (len > want - off)
			len = want - off;
		if (len > 0 && gather_copy(g, off, src, len))
			break;
		off += len;
	}
	*got = off;
	return g;
}

static __always_inline void trace(struct xdp_buff *xdp, __s32 action, __u32 flags)
{
	struct xcap_ring_counters *ctr = xcap_counters();
	__u32 zero = 0;
	struct xcap_pair *p = bpf_map_lookup_elem(&xcap_pairs, &zero);
	if (!ctr || !p)
		return;
	const int first = (flags & XCAP_RECORD_ENTRY) || !with_entry;
	if (first)
		ctr->seen++;
	if (flags & XCAP_RECORD_EXIT)
		xcap_count_action(action);

	void *data = BPF_CORE_READ(xdp, data);
	void *data_end = BPF_CORE_READ(xdp, data_end);
	struct xdp_rxq_info *rxq = BPF_CORE_READ(xdp, rxq);
	struct xcap_record_args a = {
		.src = data,
		.len = data_end > data ? (__u32)(data_end - data) : 0,
		.ifindex = rxq ? BPF_CORE_READ(rxq, dev, ifindex) : 0,
		.rx_queue = rxq ? BPF_CORE_READ(rxq, queue_index) : 0,
		.prog_id = traced_prog_id,
		.action = action,
		.flags = flags,
	};
	a.wire_len = a.len;
	if (bpf_core_field_exists(xdp->flags) && (BPF_CORE_READ(xdp, flags) & XCAP_XDP_FLAGS_HAS_FRAGS)) {
		/* The bytes the record and the filter read come from the gathered
		 * copy; without it, the linear part (and the whole length). */
		__u32 got = 0;
		struct xcap_gather *g = gather(xdp, data, a.len, xcap_snaplen, &a.wire_len, &got);
		if (g && got > 0) {
			a.src = g->b;
			a.len = got;
		}
	}
	if (first) {
		/* The filter sees what the record would hold. */
		__u32 copy = a.len < xcap_snaplen ? a.len : xcap_snaplen;
		p->match = xcap_cbpf_run(a.src, copy, a.wire_len, a.ifindex, a.rx_queue);
		if (!p->match) {
			ctr->filtered++;
			return;
		}
	} else if (!p->match) {
		return; /* its entry did not match */
	}
	if (p->match < a.len)
		a.len = p->match; /* a classic `ret k` below the length cuts the record there */
	a.packet_id = first ? next_id(p) : p->current;
	xcap_record(ctr, &a);
}

/* A tracing program's context is the traced function's arguments as u64s:
 * for an XDP program its one argument (the xdp_buff behind the xdp_md), then
 * (fexit) its return value. */
SEC("fentry")
int xcap_entry(__u64 *ctx)
{
	trace((struct xdp_buff *)ctx[0], -1, XCAP_RECORD_ENTRY);
	return 0;
}

SEC("fexit")
int xcap_exit(__u64 *ctx)
{
	trace((struct xdp_buff *)ctx[0], (__s32)ctx[1], XCAP_RECORD_EXIT);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
