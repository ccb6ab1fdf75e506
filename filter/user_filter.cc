#include "filter/user_filter.h"

#include <pcap/pcap.h>

namespace xcap {

static_assert(sizeof(classic_insn) == sizeof(struct bpf_insn), "classic_insn has libpcap's layout");

user_filter::user_filter(const compiled_filter& filter) : _insns(filter.classic) {}

uint32_t user_filter::match(const uint8_t* data, uint32_t len, uint32_t wire_len) const {
    return bpf_filter(reinterpret_cast<const struct bpf_insn*>(_insns.data()), data, wire_len > len ? wire_len : len,
                      len);
}

}  // namespace xcap
