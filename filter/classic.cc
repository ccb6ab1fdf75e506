#include "filter/classic.h"

#include <linux/filter.h>

#include <cstdio>

#include "common/error.h"
#include "filter/translate.h"

namespace xcap::classic {

int size_bytes(uint16_t code) {
    switch (BPF_SIZE(code)) {
        case BPF_W: return 4;
        case BPF_H: return 2;
        default: return 1;
    }
}

std::string hex(uint32_t v) {
    char buf[16];
    std::snprintf(buf, sizeof(buf), "0x%x", v);
    return buf;
}

abs_target classify_abs(uint32_t k, int size) {
    const int32_t sk = int32_t(k);
    if (sk >= SKF_AD_OFF && sk < 0) {
        return {abs_kind::ancillary, uint64_t(sk - SKF_AD_OFF)};
    }
    if (sk >= SKF_LL_OFF && sk < SKF_NET_OFF) {
        // The link-layer header is where an XDP frame starts.
        uint64_t off = uint64_t(sk - SKF_LL_OFF);
        return {off + uint64_t(size) <= max_packet ? abs_kind::packet : abs_kind::never_fits, off};
    }
    if (sk >= SKF_NET_OFF && sk < SKF_AD_OFF) {
        throw failure(failure_kind::usage,
                          "the filter loads relative to the network header (SKF_NET_OFF), which has no meaning in XDP");
    }
    return {uint64_t(k) + uint64_t(size) <= max_packet ? abs_kind::packet : abs_kind::never_fits, k};
}

const char* ancillary_name(uint64_t n) {
    switch (n) {
        case SKF_AD_PROTOCOL: return "protocol";
        case SKF_AD_PKTTYPE: return "pkttype";
        case SKF_AD_IFINDEX: return "ifindex";
        case SKF_AD_NLATTR: return "nlattr";
        case SKF_AD_NLATTR_NEST: return "nlattr_nest";
        case SKF_AD_MARK: return "mark";
        case SKF_AD_QUEUE: return "queue";
        case SKF_AD_HATYPE: return "hatype";
        case SKF_AD_RXHASH: return "rxhash";
        case SKF_AD_CPU: return "cpu";
        case SKF_AD_ALU_XOR_X: return "alu_xor_x";
        case SKF_AD_VLAN_TAG: return "vlan_tci";
        case SKF_AD_VLAN_TAG_PRESENT: return "vlan_avail";
        case SKF_AD_PAY_OFFSET: return "poff";
        case SKF_AD_RANDOM: return "rand";
        case SKF_AD_VLAN_TPID: return "vlan_tpid";
        default: return nullptr;
    }
}

bool ancillary_supported(uint64_t n) {
    switch (n) {
        case SKF_AD_PROTOCOL:
        case SKF_AD_PKTTYPE:
        case SKF_AD_IFINDEX:
        case SKF_AD_QUEUE:
        case SKF_AD_CPU:
        case SKF_AD_ALU_XOR_X:
        case SKF_AD_RANDOM: return true;
        default: return false;
    }
}

void check_classic(const std::vector<classic_insn>& prog, const std::string& where) {
    auto refuse = [&](size_t i, const std::string& why) {
        throw failure(failure_kind::usage,
                      "the filter cannot run " + where + ": instruction " + std::to_string(i) + " " + why);
    };
    for (size_t i = 0; i < prog.size(); ++i) {
        const auto& c = prog[i];
        switch (c.code) {
            case code_of(BPF_LD, BPF_W | BPF_ABS):
            case code_of(BPF_LD, BPF_H | BPF_ABS):
            case code_of(BPF_LD, BPF_B | BPF_ABS): {
                auto t = classify_abs(c.k, size_bytes(c.code));
                if (t.kind == abs_kind::ancillary && !ancillary_supported(t.offset)) {
                    const char* name = ancillary_name(t.offset);
                    refuse(i, std::string("uses the Linux ancillary load ") +
                                  (name ? std::string("'") + name + "'" : "SKF_AD_OFF+" + hex(uint32_t(t.offset))) +
                                  ", which has no equivalent in XDP");
                }
                break;
            }
            case code_of(BPF_LDX, BPF_MSH | BPF_B): {
                int32_t sk = int32_t(c.k);
                if (sk < 0 && sk >= SKF_NET_OFF) {
                    refuse(i, "(ldxb msh) loads from a Linux ancillary or network-header offset");
                }
                break;
            }
            case code_of(BPF_LD, BPF_MEM):
            case code_of(BPF_LDX, BPF_MEM):
            case BPF_ST:
            case BPF_STX:
                if (c.k >= memwords) {
                    refuse(i, "uses scratch memory M[" + std::to_string(c.k) + "] (there are 16)");
                }
                break;
            case code_of(BPF_LD, BPF_W | BPF_IND):
            case code_of(BPF_LD, BPF_H | BPF_IND):
            case code_of(BPF_LD, BPF_B | BPF_IND):
            case code_of(BPF_LD, BPF_W | BPF_LEN):
            case code_of(BPF_LDX, BPF_W | BPF_LEN):
            case code_of(BPF_LD, BPF_IMM):
            case code_of(BPF_LDX, BPF_IMM):
            case code_of(BPF_RET, BPF_K):
            case code_of(BPF_RET, BPF_A):
            case code_of(BPF_MISC, BPF_TAX):
            case code_of(BPF_MISC, BPF_TXA):
            case code_of(BPF_JMP, BPF_JA):
                break;
            default:
                if (BPF_CLASS(c.code) == BPF_ALU) {
                    uint16_t op = BPF_OP(c.code);
                    bool known = op <= BPF_MOD || op == BPF_XOR;
                    bool neg = op == BPF_NEG;
                    if (known && (neg ? c.code == (BPF_ALU | BPF_NEG) : (c.code & ~0xf8) == BPF_ALU)) {
                        break;
                    }
                }
                if (BPF_CLASS(c.code) == BPF_JMP) {
                    uint16_t op = BPF_OP(c.code);
                    if ((op == BPF_JEQ || op == BPF_JGT || op == BPF_JGE || op == BPF_JSET) &&
                        (c.code & ~0xf8) == BPF_JMP) {
                        break;
                    }
                }
                refuse(i, "has an opcode that is not classic BPF (" + hex(c.code) + ")");
        }
    }
}

}  // namespace xcap::classic

namespace xcap {

using classic::code_of;

bool has_indirect_loads(const compiled_filter& filter) {
    for (const auto& c : filter.classic) {
        if (BPF_CLASS(c.code) == BPF_LD && BPF_MODE(c.code) == BPF_IND) {
            return true;
        }
    }
    return false;
}

bool has_backward_jumps(const compiled_filter& filter) {
    for (const auto& c : filter.classic) {
        if (c.code == code_of(BPF_JMP, BPF_JA) && int32_t(c.k) < 0) {
            return true;
        }
    }
    return false;
}

}  // namespace xcap
