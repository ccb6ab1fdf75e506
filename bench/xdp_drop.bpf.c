// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* A sink for replay benchmarks: the receiving veth needs an XDP program for
 * frames to arrive by its fast path, and dropping them there keeps the
 * receiver's cost out of the sender's measurement. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int bench_drop(struct xdp_md *ctx)
{
	return XDP_DROP;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
