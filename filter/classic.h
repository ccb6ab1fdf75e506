#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "filter/filter.h"

// What the translator (filter/translate.h) and the interpreter's preparation
// (filter/interpreter.h) both need to know about a classic program: which
// opcodes are classic BPF, what an absolute load's k means, and which Linux
// ancillary loads have an XDP meaning. Internal to filter/. Pure functions.

namespace xcap::classic {

constexpr uint32_t memwords = 16;

// The verifier reasons about packet offsets up to MAX_PACKET_OFF (0xffff),
// and no XDP buffer is longer: a load that cannot fit below it never fits.
constexpr uint64_t max_packet = 0xffff;

constexpr uint16_t code_of(uint16_t cls, uint16_t rest) { return uint16_t(cls | rest); }

// 4, 2 or 1: the bytes a load of this opcode reads.
int size_bytes(uint16_t code);

std::string hex(uint32_t v);

// How an absolute load's k is to be read.
enum class abs_kind { packet, never_fits, ancillary };

struct abs_target {
    abs_kind kind;
    uint64_t offset;  // packet: the frame offset; ancillary: SKF_AD_* number
};

// SKF_LL_OFF + n is frame offset n (an XDP frame starts at the link-layer
// header); SKF_AD_OFF + n is ancillary datum n. Throws failure(usage) for
// SKF_NET_OFF, which has no meaning in XDP.
abs_target classify_abs(uint32_t k, int size);

// "mark", "ifindex", ...; nullptr for a number Linux does not define.
const char* ancillary_name(uint64_t n);
// protocol, pkttype, ifindex, queue, cpu, alu_xor_x and random.
bool ancillary_supported(uint64_t n);

// Throws failure(usage) "the filter cannot run <where>: instruction N ..."
// for an opcode that is not classic BPF, scratch memory past M[15], an
// ancillary load with no XDP meaning or a network-header-relative load.
void check_classic(const std::vector<classic_insn>& prog, const std::string& where);

}  // namespace xcap::classic
