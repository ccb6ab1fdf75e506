#pragma once

#include <linux/bpf.h>

#include <cstdint>
#include <vector>

#include "filter/translate.h"

// A small eBPF assembler with forward and backward labels, used by the
// translator and the program builder. Internal to filter/. Not thread-safe.

namespace xcap::ebpf {

enum reg : uint8_t { r0, r1, r2, r3, r4, r5, r6, r7, r8, r9, r10 };

class assembler {
public:
    using label = int;

    label new_label();
    // Binds `l` to the next instruction emitted.
    void bind(label l);
    bool bound(label l) const { return _labels[size_t(l)] >= 0; }
    bool referenced(label l) const { return _referenced[size_t(l)]; }
    size_t size() const { return _insns.size(); }

    void emit(const bpf_insn& i) { _insns.push_back(i); }
    void append(const std::vector<bpf_insn>& insns) { _insns.insert(_insns.end(), insns.begin(), insns.end()); }

    // 32-bit ALU (results zero-extended, as classic BPF's A and X need).
    void alu32_imm(uint8_t op, reg dst, int32_t imm) { emit(insn(BPF_ALU | op | BPF_K, dst, 0, 0, imm)); }
    void alu32_reg(uint8_t op, reg dst, reg src) { emit(insn(BPF_ALU | op | BPF_X, dst, src, 0, 0)); }
    void alu64_imm(uint8_t op, reg dst, int32_t imm) { emit(insn(BPF_ALU64 | op | BPF_K, dst, 0, 0, imm)); }
    void alu64_reg(uint8_t op, reg dst, reg src) { emit(insn(BPF_ALU64 | op | BPF_X, dst, src, 0, 0)); }
    void mov32_imm(reg dst, uint32_t imm) { alu32_imm(BPF_MOV, dst, int32_t(imm)); }
    void mov32_reg(reg dst, reg src) { alu32_reg(BPF_MOV, dst, src); }
    void mov64_reg(reg dst, reg src) { alu64_reg(BPF_MOV, dst, src); }
    void mov64_imm(reg dst, int32_t imm) { alu64_imm(BPF_MOV, dst, imm); }
    // Host order to big-endian (a swap on little-endian hosts), zero-extending.
    void to_be(reg dst, int bits) { emit(insn(BPF_ALU | BPF_END | BPF_TO_BE, dst, 0, 0, bits)); }

    void load(uint8_t size, reg dst, reg base, int16_t off) { emit(insn(BPF_LDX | BPF_MEM | size, dst, base, off, 0)); }
    void store(uint8_t size, reg base, int16_t off, reg src) { emit(insn(BPF_STX | BPF_MEM | size, base, src, off, 0)); }
    void store_imm(uint8_t size, reg base, int16_t off, int32_t imm) {
        emit(insn(BPF_ST | BPF_MEM | size, base, 0, off, imm));
    }
    void load_map_fd(reg dst, int fd) {
        emit(insn(BPF_LD | BPF_DW | BPF_IMM, dst, BPF_PSEUDO_MAP_FD, 0, fd));
        emit(insn(0, 0, 0, 0, 0));
    }
    void call(int32_t helper) { emit(insn(BPF_JMP | BPF_CALL, 0, 0, 0, helper)); }
    void exit() { emit(exit_insn()); }

    // Jumps; `cls` is BPF_JMP (64-bit compare) or BPF_JMP32.
    void jump_imm(uint8_t cls, uint8_t op, reg dst, int32_t imm, label target) {
        jump(insn(cls | op | BPF_K, dst, 0, 0, imm), target);
    }
    void jump_reg(uint8_t cls, uint8_t op, reg dst, reg src, label target) {
        jump(insn(cls | op | BPF_X, dst, src, 0, 0), target);
    }
    void ja(label target) { jump(insn(BPF_JMP | BPF_JA, 0, 0, 0, 0), target); }

    // Resolves every jump. A label bound at the end resolves to one past the
    // last instruction (the fragment's exit). Throws failure when a jump
    // does not fit eBPF's 16-bit offset or a label was never bound.
    std::vector<bpf_insn> finish();

private:
    void jump(const bpf_insn& i, label target);

    std::vector<bpf_insn> _insns;
    std::vector<long> _labels;
    std::vector<bool> _referenced;
    std::vector<std::pair<size_t, label>> _fixups;
};

}  // namespace xcap::ebpf
