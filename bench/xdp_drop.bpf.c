// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* A sink for replay benchmarks: the receiving veth needs an XDP program for
 * frames to arrive by its fast path, and dropping them there keeps the
 * receiver's cost out of the sender's measurement. It also notes, per CPU,
 * how many frames arrived and when the first and the last did
 * (CLOCK_MONOTONIC), so the harness can time a replay from the sender's start
 * to its last delivered packet without polling anything while it runs. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "bench_sink.h"

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bench_sink_stats);
} bench_sink SEC(".maps");

SEC("xdp")
int bench_drop(struct xdp_md *ctx)
{
	__u32 key = 0;
	struct bench_sink_stats *s = bpf_map_lookup_elem(&bench_sink, &key);

	if (s) {
		/* Per CPU: no other CPU writes this copy, so no atomics. */
		__u64 now = bpf_ktime_get_ns();

		if (s->packets++ == 0)
			s->first_ns = now;
		s->last_ns = now;
	}
	return XDP_DROP;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
