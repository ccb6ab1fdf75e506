#pragma once

#include <cstdint>
#include <vector>

#include "filter/filter.h"

namespace xcap {

// A compiled filter run in user space by libpcap's own classic BPF
// interpreter (bpf_filter), for a filter the XDP program cannot hold: the
// capture thread asks it about each record, as tcpdump does when the
// kernel refuses its filter. Immutable once built; match() may be called
// from any thread.
class user_filter {
public:
    explicit user_filter(const compiled_filter& filter);

    // The classic program's result for a packet of `wire_len` bytes of
    // which `len` are at `data`: 0 = no match; else the bytes to keep (at
    // least `len` means all of them).
    uint32_t match(const uint8_t* data, uint32_t len, uint32_t wire_len) const;

    size_t instruction_count() const { return _insns.size(); }

private:
    std::vector<classic_insn> _insns;
};

}  // namespace xcap
