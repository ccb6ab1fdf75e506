// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Exact NET_RX softirq time, per CPU, for xcap-bench. The veth's receive
 * work (each capture tool's kernel side: XDP redirect and the copy into an
 * AF_XDP UMEM, or the skb, the stack and the copy into a packet socket's
 * ring) runs in NET_RX softirq, mostly inside the generator's own system
 * calls, where no process's CPU time tells it apart; and this kernel samples
 * softirq time at the tick, which the paced generator's bursts alias with.
 * So the harness times it here, from softirq_entry to softirq_exit. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "bench_sink.h"

#define NET_RX_SOFTIRQ 3

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bench_softirq_time);
} net_rx_time SEC(".maps");

SEC("raw_tp/softirq_entry")
int on_softirq_entry(struct bpf_raw_tracepoint_args *ctx)
{
	__u32 key = 0;
	struct bench_softirq_time *t;

	if (ctx->args[0] != NET_RX_SOFTIRQ)
		return 0;
	t = bpf_map_lookup_elem(&net_rx_time, &key);
	if (t)
		t->started_ns = bpf_ktime_get_ns();
	return 0;
}

SEC("raw_tp/softirq_exit")
int on_softirq_exit(struct bpf_raw_tracepoint_args *ctx)
{
	__u32 key = 0;
	struct bench_softirq_time *t;

	if (ctx->args[0] != NET_RX_SOFTIRQ)
		return 0;
	t = bpf_map_lookup_elem(&net_rx_time, &key);
	/* Softirqs do not nest on a CPU; a zero start is an exit whose entry
	 * came before the program was attached. */
	if (t && t->started_ns) {
		t->total_ns += bpf_ktime_get_ns() - t->started_ns;
		t->started_ns = 0;
		t->runs++;
	}
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
