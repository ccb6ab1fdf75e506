/* The one header shared by the BPF programs and user space: metadata layout,
 * counter layout and map sizes. Fixed-width types only; no kernel or libc
 * headers beyond linux/types.h, so both sides compile it identically. */
#pragma once

#include <linux/types.h>

/* Upper bound on RX queues one capture can bind; the XSKMAP is sized to it. */
#define XCAP_MAX_QUEUES 256

/* "XCAP" in ASCII: marks metadata that the capture program wrote. A frame
 * whose metadata area lacks it (bpf_xdp_adjust_meta refused) is stamped in
 * user space instead, and counted. */
#define XCAP_META_MAGIC 0x50414358u

/* Written into the XDP metadata area, immediately before the packet's first
 * byte, by xcap_rx or, when a filter runs first, by the filter's entry
 * program (which then tail-calls xcap_rx; xcap_rx keeps metadata it finds).
 * Its size must be a multiple of 4 and at most 32 (the kernel's limit).
 * Where the kernel refuses bpf_xdp_adjust_meta to XDP programs, xcap_rx
 * puts it at the start of the frame instead, the packet after it. */
struct xcap_meta {
	__u64 rx_ts_ns; /* bpf_ktime_get_ns() when XDP saw the packet (CLOCK_MONOTONIC) */
	__u32 rx_queue;
	__u32 magic;    /* XCAP_META_MAGIC */
	__u32 cap;      /* bytes to keep at most (a filter's `ret k`); 0 = no cap */
	__u32 reserved;
	__u64 nic_ts_ns; /* -j adapter_unsynced: the NIC's receive time stamp; 0 = none */
};

/* Per queue, the packets xcap_rx has redirected to the queue's socket. One
 * cache line each, in an mmapable array (BPF_F_MMAPABLE), so the writer reads
 * them without a syscall. xcap_rx counts a packet before it reads the clock
 * for its stamp: a packet not yet counted when the writer reads `issued` is
 * stamped later than that read (see writer/writer.h, the merge). */
struct xcap_queue_seq {
	__u64 issued;
	/* The doorbell (see xcap_rx.bpf.c): written by user space before the
	 * writer sleeps. The packet that brings `issued` to exactly this value
	 * rings it; 0 = never (issued counts from 1). */
	__u64 wake_at;
	__u64 pad[6];
};

/* Per-CPU counters of xcap_rx, one struct per CPU in an array of one. */
struct xcap_rx_counters {
	__u64 seen;             /* every packet the program ran for */
	__u64 redirected;       /* handed to the AF_XDP socket of its queue */
	__u64 passed_no_socket; /* no socket bound on that queue: XDP_PASS */
	__u64 too_large;        /* longer than the sockets take (no multi-buffer): XDP_DROP */
	__u64 no_headroom;      /* metadata in the frame, but no room in front of it: XDP_DROP */
};

/* One packet in a BPF ring buffer (BPF_MAP_TYPE_RINGBUF), as the tap and
 * trace programs write it and capture/ringbuf_source reads it in place: this
 * header, then cap_len bytes of the packet. The program reserves the record
 * first and reads the clock after, so a record stamped before a moment was
 * reserved before it (the writer's merge relies on that; see
 * ringbuf_source.h). */
struct xcap_ring_record {
	__u64 ts_ns;     /* bpf_ktime_get_ns() (CLOCK_MONOTONIC), read after the reservation */
	__u64 packet_id; /* trace: the same for a packet's entry and exit records; 0 = none */
	__u32 wire_len;  /* the packet's whole length, every fragment included */
	__u32 cap_len;   /* bytes of it that follow this header */
	__u32 ifindex;   /* interface the packet arrived on */
	__u32 rx_queue;
	__u32 prog_id;   /* trace: id of the traced program; 0 = none */
	__s32 action;    /* the XDP action to record (trace exit); -1 = none */
	__u32 flags;     /* XCAP_RECORD_* */
	__u32 reserved;
	__u64 nic_ts_ns; /* tap with -j adapter_unsynced: the NIC's receive time stamp; 0 = none */
};

/* The most of one packet the tap program copies (a larger multi-buffer
 * packet is cut there; its record keeps the whole length). */
#define XCAP_TAP_MAX_COPY 65536

#define XCAP_RECORD_TAP   0x1u /* a copy taken by the tap program (the packet went on) */
#define XCAP_RECORD_ENTRY 0x2u /* trace: as the traced program received it */
#define XCAP_RECORD_EXIT  0x4u /* trace: as the traced program left it, with its action */
#define XCAP_RECORD_OUT   0x8u /* tap: a copy taken on the interface's egress (tcx), outbound */

/* The device-bound entry program (bpf/xcap_nic.bpf.c) and the programs it
 * tail-calls share this, one per CPU in an array of one: XDP runs to its end
 * on a CPU without nesting, so it describes the packet under way. */
struct xcap_nic_state {
	__u64 hw_ts_ns;  /* the NIC's receive time stamp, when has_ts */
	__u32 tagged;    /* 1: the entry program put the VLAN tag back into the frame */
	__u32 has_ts;    /* 1: hw_ts_ns holds the NIC's stamp of this packet */
};

/* Per-CPU counters of the device-bound entry program. */
struct xcap_nic_counters {
	__u64 seen;          /* packets it ran for */
	__u64 vlan_restored; /* a tag the driver took off, put back into the frame */
	__u64 vlan_no_room;  /* a tag the frame had no headroom for: left out */
	__u64 ts_nic;        /* stamped with the NIC's time */
	__u64 ts_missing;    /* the NIC gave no stamp: the kernel's time instead */
};

/* Per-CPU loss counters of a ring-buffer program, one struct per CPU in an
 * array of one. */
struct xcap_ring_counters {
	__u64 seen;      /* packets the program ran for */
	__u64 recorded;  /* records committed to the ring */
	__u64 ring_full; /* no room in the ring: the packet is not recorded */
	__u64 filtered;  /* the filter expression did not match: not recorded */
};

/* Trace: the XDP actions a traced program returned, counted per CPU by the
 * exit recorder (or the hook program of each action), one struct per CPU in
 * an array of one. Index = action (XDP_ABORTED 0 .. XDP_REDIRECT 4); the last
 * slot counts any other value. */
#define XCAP_XDP_ACTIONS 5
struct xcap_trace_actions {
	__u64 count[XCAP_XDP_ACTIONS + 1];
};

/* Trace: the most packet bytes one record carries (more is cut, wire_len
 * still says the whole length). A multiple of 8. */
#define XCAP_TRACE_MAX_CAP 16384

/* Trace: the hook map of an xdpcap-style program (cloudflare/xdpcap's
 * hook.h): a BPF_MAP_TYPE_PROG_ARRAY with int keys and values, indexed by
 * the XDP action, that the program tail-calls on its way out. */
#define XCAP_HOOK_SLOTS 5

/* Replay with --xdp-tx: a slot per packet in an mmapable array map, its
 * bytes after an 8-byte header. A live frame holds at most a page less the
 * XDP headroom and the skb_shared_info the kernel keeps at its end. */
#define XCAP_REPLAY_MAX_FRAME 3496
#define XCAP_REPLAY_MIN_SLOT 64
struct xcap_replay_slot {
	__u32 len;
	__u32 reserved;
	__u8 data[XCAP_REPLAY_MIN_SLOT];  /* at least; the map's value size sets how many */
};
