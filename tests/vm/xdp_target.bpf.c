// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* A plain XDP program for the guest lane's checks: the target of the fentry
 * and fexit programs in xdp_trace.bpf.c, and (two instances of it) the
 * programs that libxdp's dispatcher runs through freplace. It counts its runs
 * in a map that user space reads by name, whoever loaded it. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} runs SEC(".maps");

SEC("xdp")
int xdp_target(struct xdp_md *ctx)
{
	__u32 zero = 0;
	__u64 *n = bpf_map_lookup_elem(&runs, &zero);

	if (n)
		__sync_fetch_and_add(n, 1);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
