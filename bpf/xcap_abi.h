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

/* Written by xcap_rx into the XDP metadata area, immediately before the
 * packet's first byte. Its size must be a multiple of 4 and at most 32
 * (the kernel's limit on metadata). */
struct xcap_meta {
	__u64 rx_ts_ns; /* bpf_ktime_get_ns() when XDP saw the packet (CLOCK_MONOTONIC) */
	__u32 rx_queue;
	__u32 magic;    /* XCAP_META_MAGIC */
};

/* Per-CPU counters of xcap_rx, one struct per CPU in an array of one. */
struct xcap_rx_counters {
	__u64 seen;             /* every packet the program ran for */
	__u64 redirected;       /* handed to the AF_XDP socket of its queue */
	__u64 passed_no_socket; /* no socket bound on that queue: XDP_PASS */
};
