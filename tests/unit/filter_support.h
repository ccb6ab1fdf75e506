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

// A filter's translation alone (filter/translate.h) with an exit of the
// tests' own: it stores the result k in a one-entry array and returns
// XDP_PASS for k != 0, XDP_DROP for 0. The capture's programs hand k on in
// the metadata area, which some kernels refuse (xdp_metadata_allowed); this
// one needs none, so the translation is tested the same on every kernel.
// Loading throws as xdp_filter_program's does.
class k_program {
public:
    explicit k_program(const compiled_filter& filter, bool frags = false, bool verbose = false);
    struct result {
        uint32_t retval = 0;
        uint32_t k = 0;
    };
    result run(const std::vector<uint8_t>& packet) const;

private:
    unique_fd _map;
    unique_fd _prog;
};

// libpcap's own interpreter (pcap_offline_filter) on `packet`: wire length
// its size, caplen its size or `caplen` if that is less (a record cut at a
// snaplen). By default the frame as XDP sees it.
uint32_t run_classic(const compiled_filter& filter, const std::vector<uint8_t>& packet,
                     uint32_t caplen = UINT32_MAX);

// The packets of a capture file when its link type is Ethernet; `why` says
// why not otherwise (and the result is empty).
std::vector<std::vector<uint8_t>> ethernet_packets(const std::string& path, std::string* why);

// The differential tests' corpus (filter_corpus.cc), shared by the
// translator's (filter_differential_test.cc) and the trace interpreter's
// (cbpf_test.cc): at least 150 tcpdump expressions (`inbound`, `outbound`
// and `ifindex` left out: libpcap's interpreter has no ancillary data and
// answers 0 for them);
const std::vector<const char*>& filter_corpus();
// deterministic generated traffic: the mixed frames, each cut short at
// several points, and with header bytes changed;
std::vector<std::vector<uint8_t>> generated_filter_traffic();
// and the packets of every Ethernet capture under `root` (files: how many
// captures there are; none when the folder is absent).
struct shared_captures {
    std::vector<std::vector<uint8_t>> packets;
    size_t files = 0;
    size_t ethernet_files = 0;
};
shared_captures load_shared_captures(const std::string& root);

// Classic programs libpcap would never write (ret a, jset x, stores and loads
// of X, shifts by X, division by an X that is sometimes 0, loads at the edge
// of short frames), 1000 of them at random from a fixed seed, and 30 frames
// to run them on. M[] is written first because libpcap 1.10's interpreter
// does not clear it.
struct random_classic_set {
    std::vector<compiled_filter> programs;
    std::vector<std::vector<uint8_t>> frames;
};
random_classic_set random_classic_programs();

}  // namespace xcap::test
