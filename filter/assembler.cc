#include "filter/assembler.h"

#include <limits>

#include "common/error.h"
#include "filter/filter.h"

namespace xcap::ebpf {

assembler::label assembler::new_label() {
    _labels.push_back(-1);
    _referenced.push_back(false);
    return label(_labels.size() - 1);
}

void assembler::bind(label l) {
    _labels[size_t(l)] = long(_insns.size());
}

void assembler::jump(const bpf_insn& i, label target) {
    _referenced[size_t(target)] = true;
    _fixups.emplace_back(_insns.size(), target);
    emit(i);
}

std::vector<bpf_insn> assembler::finish() {
    for (auto [at, target] : _fixups) {
        long to = _labels[size_t(target)];
        if (to < 0) {
            throw failure(failure_kind::unsupported, "filter translation: a jump to an unbound label (a bug in xcap)");
        }
        long off = to - long(at) - 1;
        // A filter this long would need eBPF's 32-bit `gotol` and trampolines
        // for conditional jumps; libpcap's programs come nowhere near it.
        if (off < std::numeric_limits<int16_t>::min() || off > std::numeric_limits<int16_t>::max()) {
            throw filter_too_long("the filter is too long to run in XDP (a jump spans more than 32767 eBPF "
                                  "instructions)");
        }
        _insns[at].off = int16_t(off);
    }
    _fixups.clear();
    return _insns;
}

}  // namespace xcap::ebpf
