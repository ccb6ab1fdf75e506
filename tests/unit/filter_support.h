#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "bpf/xcap_abi.h"
#include "filter/filter.h"

// Helpers for the filter tests, split by the header each side needs:
// filter_support.cc talks to the kernel (<bpf/bpf.h>), filter_oracle.cc to
// libpcap (<pcap/pcap.h>); the two cannot share a file (each declares its own
// `struct bpf_insn`). Single-threaded.

namespace xcap::test {

// Why BPF programs cannot be loaded here (not root, no CAP_BPF, ...), or ""
// when they can. Tries once, remembers.
const std::string& bpf_skip_reason();

// One BPF_PROG_RUN of an XDP program on `packet` (as data_in).
struct xdp_run {
    uint32_t retval = 0;
    bool has_meta = false;  // the output began with a struct xcap_meta
    xcap_meta meta{};
    uint32_t duration_ns = 0;  // kernel-reported, per repetition
};
struct xdp_run_options {
    int repeat = 1;
    uint32_t ingress_ifindex = 0;  // 0: leave the context alone
    uint32_t rx_queue_index = 0;
};
// Throws std::system_error when the kernel refuses the run.
xdp_run run_xdp(int prog_fd, const std::vector<uint8_t>& packet, const xdp_run_options& options = {});

// libpcap's own interpreter (pcap_offline_filter) on `packet`, with caplen
// and wire length both its size: the frame as XDP sees it.
uint32_t run_classic(const compiled_filter& filter, const std::vector<uint8_t>& packet);

// The packets of a capture file when its link type is Ethernet; `why` says
// why not otherwise (and the result is empty).
std::vector<std::vector<uint8_t>> ethernet_packets(const std::string& path, std::string* why);

}  // namespace xcap::test
