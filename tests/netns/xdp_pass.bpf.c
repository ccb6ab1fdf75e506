// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Someone else's XDP program, for the tests that check xcap refuses to
 * replace it (and replaces it with --force). */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int not_xcap_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
