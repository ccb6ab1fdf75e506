// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* fentry and fexit programs on an XDP program, the way xcap's trace mode (and
 * xdpdump) watch a program already on an interface. The target is set from
 * user space before load (bpf_program__set_attach_target with the XDP
 * program's fd), so the sections name none. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

__u64 entries = 0;
__u64 exits = 0;
__u64 last_action = ~0ull;

/* A tracing program's context is the traced function's arguments as u64s;
 * for an XDP program that is its one argument, then (fexit) its result. */
SEC("fentry")
int trace_entry(__u64 *ctx)
{
	__sync_fetch_and_add(&entries, 1);
	return 0;
}

SEC("fexit")
int trace_exit(__u64 *ctx)
{
	last_action = ctx[1];
	__sync_fetch_and_add(&exits, 1);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
