// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The trace tests' "user program": it picks its XDP action by the UDP
 * destination port (9000 + action: 9000 ABORTED, 9001 DROP, 9002 PASS,
 * 9003 TX, 9004 REDIRECT; anything else PASS), rewrites the first payload
 * byte 'r' to 'R' (so the packet it leaves differs from the one it got), counts
 * each action, and leaves through an xdpcap hook (cloudflare/xdpcap's
 * hook.h layout: a PROG_ARRAY indexed by action, tail-called on the way out,
 * the action returned when the slot is empty). */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 5);
	__type(key, int);
	__type(value, int);
} xdpcap_hook SEC(".maps");

/* Runs per action; [5] counts packets that were not the tests' UDP. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 6);
	__type(key, __u32);
	__type(value, __u64);
} action_runs SEC(".maps");

static __always_inline int choose(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	struct udphdr *udp = (void *)(ip + 1);
	__u8 *payload = (void *)(udp + 1);

	if ((void *)(payload + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP) || ip->ihl != 5 ||
	    ip->protocol != IPPROTO_UDP)
		return -1;
	if (*payload == 'r')
		*payload = 'R';
	__u16 port = bpf_ntohs(udp->dest);
	if (port >= 9000 && port <= 9004)
		return port - 9000;
	return XDP_PASS;
}

/* Frames the program saw in several buffers (bpf_xdp_get_buff_len longer
 * than the linear part): only the frags build (xdp_actions_frags.bpf.c)
 * can see one. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} multi_buffer_runs SEC(".maps");

#ifdef XDP_ACTIONS_FRAGS
SEC("xdp.frags")
#else
SEC("xdp")
#endif
int xdp_actions(struct xdp_md *ctx)
{
	if (bpf_xdp_get_buff_len(ctx) > (__u64)(ctx->data_end - ctx->data)) {
		__u32 zero = 0;
		__u64 *m = bpf_map_lookup_elem(&multi_buffer_runs, &zero);
		if (m)
			__sync_fetch_and_add(m, 1);
	}
	int action = choose(ctx);
	__u32 slot = action < 0 ? 5 : (__u32)action;
	__u64 *n = bpf_map_lookup_elem(&action_runs, &slot);
	if (n)
		__sync_fetch_and_add(n, 1);
	if (action < 0)
		action = XDP_PASS;
#ifndef XDP_ACTIONS_NO_HOOK
	bpf_tail_call(ctx, &xdpcap_hook, action);
#endif
	return action;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
