#include "filter/translate.h"

#include <linux/filter.h>

#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <limits>
#include <map>

#include "common/error.h"
#include "filter/assembler.h"
#include "filter/classic.h"

namespace xcap {
namespace {

using namespace ebpf;
using namespace classic;

// Classic A and X live in callee-saved registers so helper calls (ancillary
// loads, `len`, the frags slow path) keep them. data_end sits in r5, which a
// call clobbers: every call is followed by its reload.
constexpr reg reg_a = r7;
constexpr reg reg_x = r8;
constexpr reg reg_ctx = r6;
constexpr reg reg_data = r9;
constexpr reg reg_data_end = r5;

constexpr int16_t mem_slot(uint32_t i) { return int16_t(-64 + 4 * int(i)); }
constexpr int16_t bytes_slot = -72;  // bpf_xdp_load_bytes' buffer, 8 bytes
// One counter of backward jumps taken per loop head, 8 bytes each. One per
// loop rather than one for the program: once a loop is left its counter is
// dead, so the verifier can merge the paths out of it; with one shared
// counter, three `protochain`s in a row exceed its million-instruction budget.
constexpr int16_t loop_slot(size_t j) { return int16_t(-80 - 8 * int(j)); }
constexpr size_t max_loops = 32;
// As many backward jumps as libpcap's interpreter takes (MAX_BACKWARD_JUMPS,
// there per packet, here per loop); the verifier needs a bound to accept a
// loop at all.
constexpr int64_t max_backward_jumps = 64;

uint8_t ebpf_size(int bytes) {
    return bytes == 4 ? BPF_W : bytes == 2 ? BPF_H : BPF_B;
}

// What the control-flow analysis needs to know about one classic instruction.
struct flow {
    bool falls_through = true;   // continues with the next instruction
    std::vector<long> targets;   // jump targets (classic indices; may be out of range)
    uint64_t proves_len = 0;     // frame length known on the way out (absolute loads)
};

class translator {
public:
    translator(const compiled_filter& filter, const translate_options& options)
        : _prog(filter.classic), _options(options), _n(long(_prog.size())) {}

    std::vector<bpf_insn> run() {
        validate();
        analyse();
        _reject = _asm.new_label();
        _exit = _asm.new_label();
        for (long i = 0; i <= _n; ++i) {
            _labels.push_back(i < _n ? _asm.new_label() : _reject);
        }
        prologue();
        for (long i = 0; i < _n; ++i) {
            if (!_reachable[size_t(i)]) {
                continue;  // the verifier refuses unreachable instructions
            }
            _asm.bind(_labels[size_t(i)]);
            emit(i);
        }
        if (_n == 0 || _last_falls_through) {
            _asm.ja(_reject);  // ran off the end of the program: 0
        }
        for (const auto& s : _slow) {
            emit_slow_path(s);
        }
        if (_asm.referenced(_reject)) {
            _asm.bind(_reject);
            _asm.mov32_imm(r0, 0);
        }
        _asm.bind(_exit);
        return _asm.finish();
    }

private:
    // A load past the first buffer of a multi-buffer frame (frags only).
    struct slow_path {
        assembler::label entry, resume;
        reg dst;
        int size;
        bool offset_in_r2;  // indirect: r2 holds the offset; absolute: `offset`
        uint32_t offset;
    };

    const classic_insn& at(long i) const { return _prog[size_t(i)]; }

    [[noreturn]] void refuse(long i, const std::string& why) const {
        throw failure(failure_kind::usage,
                          "the filter cannot run in XDP: instruction " + std::to_string(i) + " " + why);
    }

    void validate() const { check_classic(_prog, "in XDP"); }

    flow flow_of(long i) const {
        const auto& c = at(i);
        flow f;
        const uint16_t cls = BPF_CLASS(c.code);
        if (cls == BPF_RET) {
            f.falls_through = false;
        } else if (c.code == code_of(BPF_JMP, BPF_JA)) {
            f.falls_through = false;
            f.targets.push_back(i + 1 + long(int32_t(c.k)));
        } else if (cls == BPF_JMP) {
            f.falls_through = false;
            f.targets.push_back(i + 1 + c.jt);
            f.targets.push_back(i + 1 + c.jf);
        } else if (BPF_CLASS(c.code) == BPF_LD && BPF_MODE(c.code) == BPF_ABS) {
            auto t = classify_abs(c.k, size_bytes(c.code));
            if (t.kind == abs_kind::never_fits) {
                f.falls_through = false;
            } else if (t.kind == abs_kind::packet) {
                f.proves_len = t.offset + uint64_t(size_bytes(c.code));
            }
        } else if (c.code == code_of(BPF_LDX, BPF_MSH | BPF_B)) {
            auto t = classify_abs(c.k, 1);
            if (t.kind == abs_kind::never_fits) {
                f.falls_through = false;
            } else {
                f.proves_len = t.offset + 1;
            }
        } else if (BPF_CLASS(c.code) == BPF_LD && BPF_MODE(c.code) == BPF_IND) {
            f.falls_through = uint64_t(c.k) + uint64_t(size_bytes(c.code)) <= max_packet;
        } else if (cls == BPF_ALU && BPF_SRC(c.code) == BPF_K && (BPF_OP(c.code) == BPF_DIV || BPF_OP(c.code) == BPF_MOD)) {
            f.falls_through = c.k != 0;
        }
        return f;
    }

    // Reachability (the verifier refuses dead code), backward-jump targets,
    // and for each instruction the frame length every path to it has already
    // proven, so repeated loads (the EtherType, above all) skip their check.
    void analyse() {
        _reachable.assign(size_t(_n), false);
        _known.assign(size_t(_n), std::numeric_limits<uint64_t>::max());
        std::vector<bool> loop_head(size_t(_n), false);
        std::vector<long> stack;
        if (_n > 0) {
            _reachable[0] = true;
            stack.push_back(0);
        }
        while (!stack.empty()) {
            long i = stack.back();
            stack.pop_back();
            flow f = flow_of(i);
            std::vector<long> next = f.targets;
            if (f.falls_through) {
                next.push_back(i + 1);
            }
            for (long t : next) {
                if (t < 0 || t >= _n) {
                    continue;  // leaves the program: returns 0
                }
                if (t <= i && at(i).code == code_of(BPF_JMP, BPF_JA)) {
                    if (t == i) {
                        continue;  // a jump to itself: returns 0
                    }
                    if (!loop_head[size_t(t)]) {
                        loop_head[size_t(t)] = true;
                        _loop_of[t] = _loop_of.size();
                    }
                }
                if (!_reachable[size_t(t)]) {
                    _reachable[size_t(t)] = true;
                    stack.push_back(t);
                }
            }
        }
        if (_n > 0) {
            _known[0] = 0;
        }
        for (long i = 0; i < _n; ++i) {
            if (!_reachable[size_t(i)]) {
                continue;
            }
            if (loop_head[size_t(i)] || _options.frags) {
                _known[size_t(i)] = 0;
            }
            flow f = flow_of(i);
            uint64_t out = std::max(_known[size_t(i)], f.proves_len);
            std::vector<long> next = f.targets;
            if (f.falls_through) {
                next.push_back(i + 1);
            }
            for (long t : next) {
                if (t > i && t < _n) {
                    _known[size_t(t)] = std::min(_known[size_t(t)], out);
                }
            }
        }
        for (long i = 0; i < _n; ++i) {
            const auto& c = at(i);
            if (_reachable[size_t(i)] && (c.code == code_of(BPF_LD, BPF_MEM) || c.code == code_of(BPF_LDX, BPF_MEM))) {
                _mem_read[c.k] = true;
            }
        }
    }

    void prologue() {
        _asm.mov64_reg(reg_ctx, r1);
        _asm.load(BPF_W, reg_data, reg_ctx, offsetof(xdp_md, data));
        _asm.load(BPF_W, reg_data_end, reg_ctx, offsetof(xdp_md, data_end));
        _asm.mov32_imm(reg_a, 0);
        _asm.mov32_imm(reg_x, 0);
        // libpcap's interpreter starts M[] at 0; the verifier refuses reads
        // of stack never written (to programs without CAP_PERFMON).
        for (uint32_t m = 0; m < memwords; ++m) {
            if (_mem_read[m]) {
                _asm.store_imm(BPF_W, r10, mem_slot(m), 0);
            }
        }
        if (_loop_of.size() > max_loops) {
            throw failure(failure_kind::usage, "the filter has more than " + std::to_string(max_loops) +
                                                       " loops (protochain), too many to run in XDP");
        }
        for (size_t j = 0; j < _loop_of.size(); ++j) {
            _asm.store_imm(BPF_DW, r10, loop_slot(j), 0);
        }
    }

    assembler::label target(long t) const {
        if (t < 0 || t >= _n) {
            return _reject;
        }
        return _labels[size_t(t)];
    }

    void reload_data_end() { _asm.load(BPF_W, reg_data_end, reg_ctx, offsetof(xdp_md, data_end)); }

    // r0 = data + len; no match (or the slow path) unless r0 <= data_end.
    void check_linear(uint64_t len, assembler::label fail) {
        _asm.mov64_reg(r0, reg_data);
        _asm.alu64_imm(BPF_ADD, r0, int32_t(len));
        _asm.jump_reg(BPF_JMP, BPF_JGT, r0, reg_data_end, fail);
    }

    // dst = the `size` bytes at frame offset `off`, big-endian.
    void load_abs(long i, reg dst, uint64_t off, int size) {
        assembler::label fail = _reject;
        slow_path s{};
        if (_options.frags) {
            s = {_asm.new_label(), _asm.new_label(), dst, size, false, uint32_t(off)};
            fail = s.entry;
        }
        if (_known[size_t(i)] < off + uint64_t(size)) {
            check_linear(off + uint64_t(size), fail);
        }
        if (off <= uint64_t(std::numeric_limits<int16_t>::max())) {
            _asm.load(ebpf_size(size), dst, reg_data, int16_t(off));
        } else {
            _asm.mov64_reg(r1, reg_data);
            _asm.alu64_imm(BPF_ADD, r1, int32_t(off));
            _asm.load(ebpf_size(size), dst, r1, 0);
        }
        finish_load(s, dst, size);
    }

    // A = the `size` bytes at frame offset X + k (no wrap-around, as in
    // libpcap), big-endian. The offset is bounded first, so that the verifier
    // can prove the access and so that bpf_xdp_load_bytes' u32 cannot wrap.
    void load_ind(uint32_t k, int size) {
        _asm.mov64_reg(r2, reg_x);  // X is zero-extended: no 32-bit wrap
        _asm.alu64_imm(BPF_ADD, r2, int32_t(k));
        _asm.jump_imm(BPF_JMP, BPF_JGT, r2, int32_t(max_packet - uint64_t(size)), _reject);
        if (_options.indirect_by_helper) {
            load_bytes_call(reg_a, size, true, 0);
            if (size > 1) {
                _asm.to_be(reg_a, size * 8);
            }
            return;
        }
        assembler::label fail = _reject;
        slow_path s{};
        if (_options.frags) {
            s = {_asm.new_label(), _asm.new_label(), reg_a, size, true, 0};
            fail = s.entry;
        }
        _asm.mov64_reg(r1, reg_data);
        _asm.alu64_reg(BPF_ADD, r1, r2);
        _asm.mov64_reg(r0, r1);
        _asm.alu64_imm(BPF_ADD, r0, size);
        _asm.jump_reg(BPF_JMP, BPF_JGT, r0, reg_data_end, fail);
        _asm.load(ebpf_size(size), reg_a, r1, 0);
        finish_load(s, reg_a, size);
    }

    void finish_load(slow_path& s, reg dst, int size) {
        if (_options.frags) {
            _asm.bind(s.resume);
            _slow.push_back(s);
        }
        if (size > 1) {
            _asm.to_be(dst, size * 8);
        }
    }

    // dst = the bytes at the offset in r2 (or `offset`) through
    // bpf_xdp_load_bytes, which reads across fragments; none there: no match.
    void load_bytes_call(reg dst, int size, bool offset_in_r2, uint32_t offset) {
        if (!offset_in_r2) {
            _asm.mov32_imm(r2, offset);
        }
        _asm.mov64_reg(r1, reg_ctx);
        _asm.mov64_reg(r3, r10);
        _asm.alu64_imm(BPF_ADD, r3, bytes_slot);
        _asm.mov64_imm(r4, size);
        _asm.call(BPF_FUNC_xdp_load_bytes);
        _asm.jump_imm(BPF_JMP, BPF_JNE, r0, 0, _reject);
        _asm.load(ebpf_size(size), dst, r10, bytes_slot);
        reload_data_end();
    }

    // Out of line: the bytes are beyond the first buffer, or not there.
    void emit_slow_path(const slow_path& s) {
        _asm.bind(s.entry);
        load_bytes_call(s.dst, s.size, s.offset_in_r2, s.offset);
        _asm.ja(s.resume);
    }

    void load_ancillary(long i, uint64_t n) {
        switch (n) {
            case SKF_AD_PROTOCOL: {
                // eth_type_trans(): an EtherType as it stands; a length field
                // (802.3) means raw 802.3 when the payload starts 0xFFFF (IPX)
                // and 802.2 LLC otherwise.
                auto done = _asm.new_label();
                if (_known[size_t(i)] < 14) {
                    check_linear(14, _reject);
                }
                _asm.load(BPF_H, reg_a, reg_data, 12);
                _asm.to_be(reg_a, 16);
                _asm.jump_imm(BPF_JMP32, BPF_JGE, reg_a, 0x600, done);
                _asm.mov32_imm(reg_a, 0x0004);  // ETH_P_802_2
                check_linear(16, done);
                _asm.load(BPF_H, r1, reg_data, 14);
                _asm.jump_imm(BPF_JMP32, BPF_JNE, r1, 0xffff, done);
                _asm.mov32_imm(reg_a, 0x0001);  // ETH_P_802_3
                _asm.bind(done);
                break;
            }
            case SKF_AD_PKTTYPE: {
                auto done = _asm.new_label();
                auto group = _asm.new_label();
                if (_known[size_t(i)] < 6) {
                    check_linear(6, _reject);
                }
                _asm.load(BPF_B, r1, reg_data, 0);
                _asm.mov32_imm(reg_a, 0);  // PACKET_HOST
                _asm.jump_imm(BPF_JMP32, BPF_JSET, r1, 1, group);
                _asm.ja(done);
                _asm.bind(group);
                _asm.mov32_imm(reg_a, 2);  // PACKET_MULTICAST
                _asm.load(BPF_W, r1, reg_data, 0);
                _asm.jump_imm(BPF_JMP32, BPF_JNE, r1, -1, done);
                _asm.load(BPF_H, r1, reg_data, 4);
                _asm.jump_imm(BPF_JMP32, BPF_JNE, r1, 0xffff, done);
                _asm.mov32_imm(reg_a, 1);  // PACKET_BROADCAST
                _asm.bind(done);
                break;
            }
            case SKF_AD_IFINDEX: _asm.load(BPF_W, reg_a, reg_ctx, offsetof(xdp_md, ingress_ifindex)); break;
            case SKF_AD_QUEUE: _asm.load(BPF_W, reg_a, reg_ctx, offsetof(xdp_md, rx_queue_index)); break;
            case SKF_AD_CPU:
                _asm.call(BPF_FUNC_get_smp_processor_id);
                _asm.mov32_reg(reg_a, r0);
                reload_data_end();
                break;
            case SKF_AD_RANDOM:
                _asm.call(BPF_FUNC_get_prandom_u32);
                _asm.mov32_reg(reg_a, r0);
                reload_data_end();
                break;
            case SKF_AD_ALU_XOR_X: _asm.alu32_reg(BPF_XOR, reg_a, reg_x); break;
            default: refuse(i, "uses an unsupported ancillary load");  // validate() stops these first
        }
    }

    // `len`: the frame's length. bpf_xdp_get_buff_len counts every fragment,
    // and needs no pointer subtraction (which the verifier allows only with
    // CAP_PERFMON).
    void load_len(reg dst) {
        _asm.mov64_reg(r1, reg_ctx);
        _asm.call(BPF_FUNC_xdp_get_buff_len);
        _asm.mov32_reg(dst, r0);
        reload_data_end();
    }

    void emit_alu(const classic_insn& c) {
        const uint8_t op = uint8_t(BPF_OP(c.code));
        if (op == BPF_NEG) {
            _asm.emit(insn(BPF_ALU | BPF_NEG, reg_a, 0, 0, 0));
            return;
        }
        if (BPF_SRC(c.code) == BPF_K) {
            if ((op == BPF_DIV || op == BPF_MOD) && c.k == 0) {
                _asm.ja(_reject);  // classic BPF: division by zero returns 0
                return;
            }
            if ((op == BPF_LSH || op == BPF_RSH) && c.k >= 32) {
                _asm.mov32_imm(reg_a, 0);
                return;
            }
            _asm.alu32_imm(op, reg_a, int32_t(c.k));
            return;
        }
        if (op == BPF_DIV || op == BPF_MOD) {
            // eBPF would give 0 (div) or A (mod); classic BPF returns 0.
            _asm.jump_imm(BPF_JMP32, BPF_JEQ, reg_x, 0, _reject);
        }
        if (op == BPF_LSH || op == BPF_RSH) {
            // eBPF masks the shift to 5 bits; libpcap gives 0 from 32 up.
            auto in_range = _asm.new_label();
            auto done = _asm.new_label();
            _asm.jump_imm(BPF_JMP32, BPF_JLT, reg_x, 32, in_range);
            _asm.mov32_imm(reg_a, 0);
            _asm.ja(done);
            _asm.bind(in_range);
            _asm.alu32_reg(op, reg_a, reg_x);
            _asm.bind(done);
            return;
        }
        _asm.alu32_reg(op, reg_a, reg_x);
    }

    // Each emit_*jump returns true when control never falls through.
    bool emit_cond_jump(long i, const classic_insn& c) {
        const uint8_t op = uint8_t(BPF_OP(c.code));
        const long t = i + 1 + c.jt;
        const long f = i + 1 + c.jf;
        const long next = i + 1 < _n ? i + 1 : -1;
        auto cond = [&](uint8_t o, assembler::label to) {
            // JMP32: A and X are 32-bit and k must not be sign-extended.
            if (BPF_SRC(c.code) == BPF_K) {
                _asm.jump_imm(BPF_JMP32, o, reg_a, int32_t(c.k), to);
            } else {
                _asm.jump_reg(BPF_JMP32, o, reg_a, reg_x, to);
            }
        };
        uint8_t inverse = op == BPF_JEQ ? BPF_JNE : op == BPF_JGT ? BPF_JLE : op == BPF_JGE ? BPF_JLT : 0;
        if (target(t) == target(f)) {
            if (t == next) {
                return false;
            }
            _asm.ja(target(t));
            return true;
        }
        if (f == next) {
            cond(op, target(t));
            return false;
        }
        if (t == next && inverse != 0) {
            cond(inverse, target(f));
            return false;
        }
        cond(op, target(t));
        _asm.ja(target(f));
        return true;
    }

    bool emit_ja(long i, const classic_insn& c) {
        const long t = i + 1 + long(int32_t(c.k));
        if (t == i || t < 0 || t >= _n) {
            _asm.ja(_reject);
            return true;
        }
        if (t < i) {
            const int16_t slot = loop_slot(_loop_of.at(t));
            _asm.load(BPF_DW, r1, r10, slot);
            _asm.alu64_imm(BPF_ADD, r1, 1);
            _asm.store(BPF_DW, r10, slot, r1);
            _asm.jump_imm(BPF_JMP, BPF_JGT, r1, int32_t(max_backward_jumps), _reject);
        }
        if (t == i + 1) {
            return false;
        }
        _asm.ja(target(t));
        return true;
    }

    void emit(long i) {
        const classic_insn& c = at(i);
        bool unconditional = false;
        switch (BPF_CLASS(c.code)) {
            case BPF_LD:
                switch (BPF_MODE(c.code)) {
                    case BPF_ABS: {
                        auto t = classify_abs(c.k, size_bytes(c.code));
                        if (t.kind == abs_kind::never_fits) {
                            _asm.ja(_reject);
                            unconditional = true;
                        } else if (t.kind == abs_kind::ancillary) {
                            load_ancillary(i, t.offset);
                        } else {
                            load_abs(i, reg_a, t.offset, size_bytes(c.code));
                        }
                        break;
                    }
                    case BPF_IND:
                        if (uint64_t(c.k) + uint64_t(size_bytes(c.code)) > max_packet) {
                            _asm.ja(_reject);
                            unconditional = true;
                        } else {
                            load_ind(c.k, size_bytes(c.code));
                        }
                        break;
                    case BPF_IMM: _asm.mov32_imm(reg_a, c.k); break;
                    case BPF_MEM: _asm.load(BPF_W, reg_a, r10, mem_slot(c.k)); break;
                    case BPF_LEN: load_len(reg_a); break;
                }
                break;
            case BPF_LDX:
                switch (BPF_MODE(c.code)) {
                    case BPF_IMM: _asm.mov32_imm(reg_x, c.k); break;
                    case BPF_MEM: _asm.load(BPF_W, reg_x, r10, mem_slot(c.k)); break;
                    case BPF_LEN: load_len(reg_x); break;
                    case BPF_MSH: {
                        auto t = classify_abs(c.k, 1);
                        if (t.kind == abs_kind::never_fits) {
                            _asm.ja(_reject);
                            unconditional = true;
                            break;
                        }
                        load_abs(i, reg_x, t.offset, 1);
                        _asm.alu32_imm(BPF_AND, reg_x, 0xf);
                        _asm.alu32_imm(BPF_LSH, reg_x, 2);
                        break;
                    }
                }
                break;
            case BPF_ST: _asm.store(BPF_W, r10, mem_slot(c.k), reg_a); break;
            case BPF_STX: _asm.store(BPF_W, r10, mem_slot(c.k), reg_x); break;
            case BPF_ALU:
                emit_alu(c);
                unconditional = BPF_SRC(c.code) == BPF_K && c.k == 0 &&
                                (BPF_OP(c.code) == BPF_DIV || BPF_OP(c.code) == BPF_MOD);
                break;
            case BPF_JMP:
                unconditional = BPF_OP(c.code) == BPF_JA ? emit_ja(i, c) : emit_cond_jump(i, c);
                break;
            case BPF_RET:
                if (BPF_RVAL(c.code) == BPF_A) {
                    _asm.mov32_reg(r0, reg_a);
                } else {
                    _asm.mov32_imm(r0, c.k);
                }
                _asm.ja(_exit);
                unconditional = true;
                break;
            case BPF_MISC:
                if (BPF_MISCOP(c.code) == BPF_TAX) {
                    _asm.mov32_reg(reg_x, reg_a);
                } else {
                    _asm.mov32_reg(reg_a, reg_x);
                }
                break;
        }
        _last_falls_through = !unconditional;
    }

    const std::vector<classic_insn>& _prog;
    translate_options _options;
    long _n;
    assembler _asm;
    assembler::label _reject = -1, _exit = -1;
    std::vector<assembler::label> _labels;
    std::vector<bool> _reachable;
    std::vector<uint64_t> _known;
    bool _mem_read[memwords] = {};
    std::map<long, size_t> _loop_of;  // loop head (classic index) → its counter
    bool _last_falls_through = true;  // the last instruction emitted continues past the program
    std::vector<slow_path> _slow;
};

}  // namespace

std::vector<bpf_insn> translate(const compiled_filter& filter, const translate_options& options) {
    return translator(filter, options).run();
}

}  // namespace xcap
