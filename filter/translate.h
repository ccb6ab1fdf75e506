#pragma once

#include <linux/bpf.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common/fd.h"
#include "filter/filter.h"

// Classic BPF → eBPF for XDP, and the programs built around it. Includes
// <linux/bpf.h>: do not include it beside <pcap/pcap.h>.
//
// Semantics are libpcap's own interpreter's (pcap_offline_filter) on the
// frame as XDP sees it: A, X and M[] start at 0; packet loads are big-endian;
// a load that does not fit in the frame, a division or modulo by zero, a
// jump out of the program and running off its end all return 0 (no match);
// shifts by 32 or more give 0; `len` is the frame's length (every fragment
// with frags). Backward jumps (libpcap's `protochain`) are allowed: 64 taken
// back to any one loop head per packet, as libpcap's interpreter (after 1.10)
// allows per packet; the 65th returns 0. Loads past frame offset 65535 never
// match (the verifier's MAX_PACKET_OFF; only a multi-buffer frame above a
// 64 KiB MTU is longer).
//
// Linux ancillary loads (ld [SKF_AD_OFF + n]): with a dead DLT_EN10MB
// handle libpcap emits only `inbound`/`outbound` (pkttype) and `ifindex N`
// (ifindex); VLAN tests read the tag in the frame (vlan_avail is emitted on
// live Linux handles only). What each means here:
//   protocol   the EtherType in the frame (eth_type_trans: 802.3 length
//              fields give ETH_P_802_3 or ETH_P_802_2)
//   pkttype    from the destination MAC: PACKET_BROADCAST, PACKET_MULTICAST,
//              else PACKET_HOST. XDP sees received frames only, so
//              PACKET_OUTGOING never occurs (`outbound` matches nothing);
//              PACKET_OTHERHOST is not told apart from PACKET_HOST (libpcap
//              only ever compares pkttype with PACKET_OUTGOING, so
//              `inbound` and `outbound` mean exactly what they say).
//   ifindex    xdp_md.ingress_ifindex
//   queue      xdp_md.rx_queue_index
//   cpu        bpf_get_smp_processor_id()
//   random     bpf_get_prandom_u32()
//   alu_xor_x  A ^= X
// and link-layer-relative loads (SKF_LL_OFF + k) read frame offset k.
// Everything else (mark, rxhash, hatype, nlattr, VLAN offload data, payload
// offset, SKF_NET_OFF) has no XDP meaning: translate() throws failure.
// libpcap's own interpreter knows none of these and returns 0 for them.
//
// Ownership: values in, values out; load_xdp_program returns an owned fd.
// Threading: every function is reentrant.

namespace xcap {

struct translate_options {
    // The program is loaded with BPF_F_XDP_HAS_FRAGS: loads past the first
    // buffer use bpf_xdp_load_bytes, and no bounds check is elided.
    bool frags = false;
    // Indirect loads (ld [x + k], libpcap's way past an IPv4 header) through
    // bpf_xdp_load_bytes rather than a packet pointer plus a variable offset,
    // which the verifier allows only with CAP_PERFMON (or CAP_SYS_ADMIN).
    // Slower by a helper call per load, but far cheaper to verify in a loop:
    // the verifier walks each of a loop's 64 iterations, and a variable
    // packet offset keeps every offset range apart (one `ip6 protochain`
    // costs it about 400k of its million instructions with packet pointers,
    // 85k with the helper).
    bool indirect_by_helper = false;
};

// The filter as an eBPF fragment for an XDP program. Contract:
//   on entry   r1 = struct xdp_md *;
//   on exit    control reaches the instruction just past the fragment (index
//              size()), with w0 = the filter's result k (0: no match) and
//              r6 = the xdp_md pointer;
//   stack      below fp: M[] at fp-64 .. fp-4, then scratch and one 8-byte
//              counter per loop; all of it is dead after the exit;
// r7, r8, r9 and r1-r5 are clobbered. Throws failure for a program it
// cannot translate (an opcode it does not know, an ancillary load with no XDP
// meaning, a program too long for eBPF's 16-bit jumps).
std::vector<bpf_insn> translate(const compiled_filter& filter, const translate_options& options = {});

// Maps and metadata the program around the fragment needs.
struct xdp_program_spec {
    filter_exit exit = filter_exit::tail_call;
    bool frags = false;
    // Leave xcap_meta (with the filter's cap) in the metadata area of a
    // match; false where the kernel refuses bpf_xdp_adjust_meta.
    bool metadata = true;
    bool indirect_by_helper = false;  // see translate_options
    int counters_map_fd = -1;    // BPF_MAP_TYPE_PERCPU_ARRAY, 1 entry, value filter_counters
    int prog_array_fd = -1;      // BPF_MAP_TYPE_PROG_ARRAY (tail_call only)
    bool reject_next = false;    // tail_call only: a rejection tail-calls slot 1 first
};

// True when the classic program has an indirect load (where
// translate_options::indirect_by_helper makes a difference).
bool has_indirect_loads(const compiled_filter& filter);
// True when it has a backward jump (a loop: libpcap's protochain).
bool has_backward_jumps(const compiled_filter& filter);

// The whole XDP program: translate() plus the exit described at filter_exit.
std::vector<bpf_insn> build_xdp_program(const compiled_filter& filter, const xdp_program_spec& spec);

// Loads XDP instructions (license "Dual BSD/GPL"). Throws filter_load_error
// naming `what`; with `verbose`, its hint carries the verifier's log.
unique_fd load_xdp_program(const std::vector<bpf_insn>& insns, bool frags, const std::string& what, bool verbose);

// Instruction encoders, for tests and benchmarks that write small programs.
namespace ebpf {

constexpr bpf_insn insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
    bpf_insn i{};
    i.code = code;
    i.dst_reg = dst & 0xf;
    i.src_reg = src & 0xf;
    i.off = off;
    i.imm = imm;
    return i;
}
constexpr bpf_insn mov64_imm(uint8_t dst, int32_t imm) { return insn(BPF_ALU64 | BPF_MOV | BPF_K, dst, 0, 0, imm); }
constexpr bpf_insn mov64_reg(uint8_t dst, uint8_t src) { return insn(BPF_ALU64 | BPF_MOV | BPF_X, dst, src, 0, 0); }
constexpr bpf_insn exit_insn() { return insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0); }

}  // namespace ebpf

}  // namespace xcap
