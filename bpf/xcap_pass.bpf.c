// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Replay's pass-through program: some drivers transmit AF_XDP frames in
 * zero-copy mode only while an XDP program is attached (`xcap replay
 * --xdp-mode`). It lets every received packet go on to the stack. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int xcap_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
