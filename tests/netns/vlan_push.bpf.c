// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The tests' tc program for the sender's egress: puts VLAN tag 100 on every
 * IPv4 ICMP frame into the skb's metadata (bpf_skb_vlan_push), as a VLAN
 * device over a NIC with tx-vlan-offload does. veth hands the receiver's XDP
 * the frame without the tag and the tag beside it, as a NIC with
 * rx-vlan-offload does. ARP goes untagged, so the sender still resolves the
 * receiver's address (the receiver has no VLAN device: tagged frames reach
 * no socket there). */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

SEC("tc")
int vlan_push(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP) || ip->protocol != IPPROTO_ICMP)
		return TC_ACT_OK;
	bpf_skb_vlan_push(skb, bpf_htons(ETH_P_8021Q), 100);
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
