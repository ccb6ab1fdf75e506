// libpcap's side of the filter tests; see filter_support.h for why it is a
// file of its own.
#include <pcap/pcap.h>

#include <algorithm>
#include <cstring>

#include "filter_support.h"

namespace xcap::test {

uint32_t run_classic(const compiled_filter& filter, const std::vector<uint8_t>& packet, uint32_t caplen) {
    static_assert(sizeof(classic_insn) == sizeof(struct bpf_insn));
    bpf_program prog{};
    prog.bf_len = u_int(filter.classic.size());
    prog.bf_insns = reinterpret_cast<struct bpf_insn*>(const_cast<classic_insn*>(filter.classic.data()));
    pcap_pkthdr h{};
    h.len = bpf_u_int32(packet.size());
    h.caplen = std::min<bpf_u_int32>(h.len, caplen);
    return uint32_t(pcap_offline_filter(&prog, &h, packet.data()));
}

std::vector<std::vector<uint8_t>> ethernet_packets(const std::string& path, std::string* why) {
    char err[PCAP_ERRBUF_SIZE] = "";
    std::vector<std::vector<uint8_t>> out;
    pcap_t* p = pcap_open_offline(path.c_str(), err);
    if (p == nullptr) {
        *why = err;
        return out;
    }
    if (pcap_datalink(p) != DLT_EN10MB) {
        *why = std::string("link type ") + pcap_datalink_val_to_name(pcap_datalink(p)) + ", not Ethernet";
        pcap_close(p);
        return out;
    }
    pcap_pkthdr* h = nullptr;
    const u_char* data = nullptr;
    // A file that ends in an error still gives the packets before it.
    while (pcap_next_ex(p, &h, &data) == 1) {
        out.emplace_back(data, data + h->caplen);
    }
    pcap_close(p);
    return out;
}

}  // namespace xcap::test
