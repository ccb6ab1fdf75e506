#include "filter/interpreter.h"

#include <bpf/bpf.h>
#include <linux/filter.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <memory>

#include "common/error.h"
#include "filter/classic.h"

namespace xcap {

using namespace classic;

static_assert(sizeof(xcap_cbpf_insn) == sizeof(classic_insn));

interpreter_program prepare_interpreter(const compiled_filter& filter, const char* where) {
    const auto& in = filter.classic;
    if (in.size() > XCAP_CBPF_MAX_INSNS) {
        throw failure(failure_kind::usage,
                      "the filter cannot run " + std::string(where) + ": it compiles to " + std::to_string(in.size()) +
                          " classic instructions, more than the " + std::to_string(XCAP_CBPF_MAX_INSNS) +
                          " the interpreter takes",
                      "simplify the expression");
    }
    check_classic(in, where);
    interpreter_program out;
    std::map<long, uint8_t> loop_of;  // loop head → its number
    for (size_t i = 0; i < in.size(); ++i) {
        const classic_insn& c = in[i];
        xcap_cbpf_insn o{c.code, c.jt, c.jf, c.k};
        if (BPF_CLASS(c.code) == BPF_LD && BPF_MODE(c.code) == BPF_ABS) {
            auto t = classify_abs(c.k, size_bytes(c.code));
            if (t.kind != abs_kind::ancillary) {
                o.k = uint32_t(std::min<uint64_t>(t.offset, UINT32_MAX));
            }
        } else if (c.code == code_of(BPF_LDX, BPF_MSH | BPF_B)) {
            o.k = uint32_t(std::min<uint64_t>(classify_abs(c.k, 1).offset, UINT32_MAX));
        } else if (c.code == code_of(BPF_JMP, BPF_JA) && int32_t(c.k) < 0) {
            const long target = long(i) + 1 + long(int32_t(c.k));
            if (target == long(i) || target < 0) {
                o = {uint16_t(BPF_RET | BPF_K), 0, 0, 0};
            } else {
                auto [it, added] = loop_of.try_emplace(target, uint8_t(loop_of.size()));
                if (added && loop_of.size() > XCAP_CBPF_MAX_LOOPS) {
                    throw failure(failure_kind::usage,
                                  "the filter cannot run " + std::string(where) + ": it has more than " +
                                      std::to_string(XCAP_CBPF_MAX_LOOPS) + " loops (protochain)",
                                  "simplify the expression");
                }
                o.jt = it->second;
                o.jf = 0;
            }
        }
        out.insns.push_back(o);
    }
    out.loops = uint32_t(loop_of.size());
    const uint64_t steps = (uint64_t(in.size()) + 1) * (1 + uint64_t(XCAP_CBPF_MAX_BACK_JUMPS) * out.loops);
    out.steps = uint32_t(std::min<uint64_t>(steps, XCAP_CBPF_MAX_STEPS));
    return out;
}

void write_interpreter_program(int map_fd, const interpreter_program& program) {
    auto value = std::make_unique<xcap_cbpf_prog>();
    std::copy(program.insns.begin(), program.insns.end(), value->insn);
    uint32_t key = 0;
    if (bpf_map_update_elem(map_fd, &key, value.get(), BPF_ANY) != 0) {
        throw failure(failure_kind::runtime, errno, "cannot write the filter program into its map");
    }
}

}  // namespace xcap
