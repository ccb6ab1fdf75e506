#pragma once

#include <cstdint>
#include <vector>

#include "bpf/xcap_cbpf_abi.h"
#include "filter/filter.h"

// The classic program as bpf/xcap_cbpf.bpf.h (the trace recorders' classic
// BPF interpreter) runs it. User space checks and prepares it once, at start:
//   - what has no meaning in XDP is refused, as the translator refuses it
//     (failure(usage): exit 2, one line, nothing loaded): ancillary loads
//     other than protocol, pkttype, ifindex, queue, cpu, random and
//     alu_xor_x, network-header-relative loads, opcodes that are not
//     classic BPF, M[16] and beyond;
//   - more than XCAP_CBPF_MAX_INSNS instructions or XCAP_CBPF_MAX_LOOPS loop
//     heads are refused the same way;
//   - link-layer-relative offsets (SKF_LL_OFF + n) become plain offsets n;
//   - a `ja` to itself or before the program's start becomes `ret #0` (what
//     the translator makes of it; libpcap's interpreter would spin or crash);
//   - each other backward `ja` gets its loop's number in its `jt` byte,
//     which classic BPF does not read for `ja`: the interpreter counts the
//     jumps back to each loop head there (at most 64 per packet).
// The step budget is (length + 1) * (1 + 64 * loops), at most 2^23.
//
// Ownership: values in, values out. Threading: reentrant.

namespace xcap {

struct interpreter_program {
    std::vector<xcap_cbpf_insn> insns;
    uint32_t loops = 0;  // loop heads (backward-jump targets)
    uint32_t steps = 0;  // bpf_loop iterations allowed per packet
};

// `where` names the user in the refusal ("in xcap trace").
interpreter_program prepare_interpreter(const compiled_filter& filter, const char* where);

// Writes the program into the interpreter's array map (xcap_cbpf_prog).
// Throws failure(runtime) when the kernel refuses the update.
void write_interpreter_program(int map_fd, const interpreter_program& program);

}  // namespace xcap
