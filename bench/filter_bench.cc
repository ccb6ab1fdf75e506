// The cost of a filter per packet, in the kernel, by BPF_PROG_RUN's own
// clock (the average over `repeat` runs that the kernel reports): xcap's XDP
// program (filter/, the verdict variant: filter, metadata, no tail call) for
// no filter, a 1-term, a 5-term and a 20-term expression, each beside what
// tcpdump's kernel runs for the same classic program.
//
// The classic side, and how honest it is: tcpdump attaches the classic
// program with SO_ATTACH_FILTER and the kernel converts it to eBPF
// (bpf_convert_filter) without giving it an fd, so it cannot be run on its
// own. This benchmark rebuilds that conversion rule for rule (A in r0, X in
// r7, 32-bit ALU, the X == 0 exit before div/mod, jumps on the 64-bit
// registers with a zero-extended immediate) as a BPF_PROG_TYPE_SOCKET_FILTER
// program and runs it on an skb holding the same frame from its MAC header,
// as an AF_PACKET socket sees it. One difference remains and it favours
// xcap: packet loads here are eBPF LD_ABS/LD_IND, which the verifier turns
// into a call of bpf_skb_load_helper_*; the kernel's own conversion inlines
// absolute loads within the linear head (indirect loads call the helper in
// both). So the classic column is an upper bound on tcpdump's filter cost,
// by about one helper call per absolute load. Neither column includes what
// surrounds the filter: for tcpdump an skb clone and a copy into its ring
// per packet, for xcap the AF_XDP redirect.
//
// Both sides run over the same mixed frames (tests/common/frames.h) and must
// agree on every verdict before anything is timed.
#include <benchmark/benchmark.h>
#include <bpf/bpf.h>
#include <linux/bpf.h>
#include <linux/filter.h>

#include <cstdio>
#include <cstring>
#include <iterator>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "filter/assembler.h"
#include "filter/filter.h"
#include "filter/translate.h"
#include "bench/filter_bench_common.h"
#include "frames.h"

using namespace xcap;

namespace {

// BPF_PROG_RUN of an XDP program with repeat > 1 swaps it into the XDP
// dispatcher and out again, two RCU grace periods a call (milliseconds on a
// busy machine): few calls, many runs each.
constexpr int repeat = 20000;      // runs per BPF_PROG_RUN call, one frame
constexpr uint32_t packets = 120;  // distinct frames (every kind of the mix), each timed once per repetition

const auto& expressions = bench_expressions;
const auto& labels = bench_labels;

// The kernel's conversion of a classic socket filter (net/core/filter.c,
// bpf_convert_filter), rebuilt with eBPF LD_ABS/LD_IND for packet loads.
std::vector<bpf_insn> kernel_style_socket_filter(const compiled_filter& f) {
    using namespace ebpf;
    constexpr reg a = r0, x = r7, ctx = r6, tmp = r8;
    assembler as;
    const long n = long(f.classic.size());
    std::vector<assembler::label> at;
    for (long i = 0; i <= n; ++i) {
        at.push_back(as.new_label());
    }
    auto label = [&](long t) { return at[size_t(std::min(t, n))]; };
    as.mov64_reg(ctx, r1);
    as.mov32_imm(a, 0);  // the kernel clears them with xor; the verifier wants a write first
    as.mov32_imm(x, 0);
    for (long i = 0; i < n; ++i) {
        const auto& c = f.classic[size_t(i)];
        as.bind(at[size_t(i)]);
        const int16_t mem = int16_t(-(16 - int(c.k)) * 4);
        switch (BPF_CLASS(c.code)) {
            case BPF_LD:
                switch (BPF_MODE(c.code)) {
                    case BPF_ABS: as.emit(insn(BPF_LD | BPF_ABS | BPF_SIZE(c.code), 0, 0, 0, int32_t(c.k))); break;
                    case BPF_IND: as.emit(insn(BPF_LD | BPF_IND | BPF_SIZE(c.code), 0, x, 0, int32_t(c.k))); break;
                    case BPF_IMM: as.mov32_imm(a, c.k); break;
                    case BPF_MEM: as.load(BPF_W, a, r10, mem); break;
                    case BPF_LEN: as.load(BPF_W, a, ctx, offsetof(__sk_buff, len)); break;
                }
                break;
            case BPF_LDX:
                switch (BPF_MODE(c.code)) {
                    case BPF_IMM: as.mov32_imm(x, c.k); break;
                    case BPF_MEM: as.load(BPF_W, x, r10, mem); break;
                    case BPF_LEN: as.load(BPF_W, x, ctx, offsetof(__sk_buff, len)); break;
                    case BPF_MSH:
                        as.mov64_reg(tmp, a);
                        as.emit(insn(BPF_LD | BPF_ABS | BPF_B, 0, 0, 0, int32_t(c.k)));
                        as.alu32_imm(BPF_AND, a, 0xf);
                        as.alu32_imm(BPF_LSH, a, 2);
                        as.mov32_reg(x, a);
                        as.mov64_reg(a, tmp);
                        break;
                }
                break;
            case BPF_ST: as.store(BPF_W, r10, mem, a); break;
            case BPF_STX: as.store(BPF_W, r10, mem, x); break;
            case BPF_ALU: {
                const uint8_t op = uint8_t(BPF_OP(c.code));
                if (op == BPF_NEG) {
                    as.emit(insn(BPF_ALU | BPF_NEG, a, 0, 0, 0));
                } else if (BPF_SRC(c.code) == BPF_K) {
                    as.alu32_imm(op, a, int32_t(c.k));
                } else {
                    if (op == BPF_DIV || op == BPF_MOD) {
                        auto ok = as.new_label();
                        as.jump_imm(BPF_JMP, BPF_JNE, x, 0, ok);
                        as.alu32_reg(BPF_XOR, a, a);
                        as.exit();
                        as.bind(ok);
                    }
                    as.alu32_reg(op, a, x);
                }
                break;
            }
            case BPF_JMP: {
                const uint8_t op = uint8_t(BPF_OP(c.code));
                if (op == BPF_JA) {
                    as.ja(label(i + 1 + long(int32_t(c.k))));
                    break;
                }
                reg src = x;
                bool imm = BPF_SRC(c.code) == BPF_K;
                if (imm && int32_t(c.k) < 0) {
                    as.mov32_imm(r2, c.k);  // zero-extended, not sign-extended
                    src = r2;
                    imm = false;
                }
                auto cond = [&](uint8_t o, assembler::label to) {
                    imm ? as.jump_imm(BPF_JMP, o, a, int32_t(c.k), to) : as.jump_reg(BPF_JMP, o, a, src, to);
                };
                const long t = i + 1 + c.jt, fl = i + 1 + c.jf;
                const uint8_t inverse = op == BPF_JEQ ? BPF_JNE : op == BPF_JGT ? BPF_JLE : op == BPF_JGE ? BPF_JLT : 0;
                if (c.jf == 0) {
                    cond(op, label(t));
                } else if (c.jt == 0 && inverse) {
                    cond(inverse, label(fl));
                } else {
                    cond(op, label(t));
                    as.ja(label(fl));
                }
                break;
            }
            case BPF_RET:
                if (BPF_RVAL(c.code) == BPF_K) {
                    as.mov32_imm(a, c.k);
                }
                as.exit();
                break;
            case BPF_MISC:
                BPF_MISCOP(c.code) == BPF_TAX ? as.mov32_reg(x, a) : as.mov32_reg(a, x);
                break;
        }
    }
    if (as.referenced(at[size_t(n)])) {
        as.bind(at[size_t(n)]);  // off the end: 0
        as.mov32_imm(a, 0);
        as.exit();
    }
    return as.finish();
}

struct sides {
    std::vector<std::vector<uint8_t>> frames;     // as XDP sees them
    std::vector<std::vector<uint8_t>> skb_input;  // 14 bytes the kernel pulls, then the frame
    std::vector<unique_fd> xdp_filter;
    std::vector<std::unique_ptr<xdp_filter_program>> xdp;
    std::vector<unique_fd> classic;
    std::vector<size_t> classic_insns;
};

sides& setup() {
    static sides s = [] {
        sides s;
        for (uint32_t seq = 0; seq < packets * 5; seq += 5) {  // 5 and the 6 kinds are coprime
            s.frames.push_back(test::build_frame(seq));
            // bpf_prog_test_run_skb runs eth_type_trans, which pulls 14
            // bytes: put a throwaway header in front so the filter sees the
            // frame from its MAC header, as on a SOCK_RAW packet socket.
            std::vector<uint8_t> in(14, 0);
            in[12] = 0x08;  // IPv4, so the skb is set up as for any frame
            in.insert(in.end(), s.frames.back().begin(), s.frames.back().end());
            s.skb_input.push_back(std::move(in));
        }
        {
            using namespace ebpf;
            s.xdp_filter.push_back(load_xdp_program({mov64_imm(0, XDP_PASS), exit_insn()}, false, "empty", true));
            s.xdp.push_back(nullptr);
            std::vector<bpf_insn> ret = {mov64_imm(0, 262144), exit_insn()};
            LIBBPF_OPTS(bpf_prog_load_opts, opts);
            s.classic.emplace_back(
                bpf_prog_load(BPF_PROG_TYPE_SOCKET_FILTER, "empty", "GPL", ret.data(), ret.size(), &opts));
            if (!s.classic.back()) {
                throw std::runtime_error(std::string("loading a socket filter: ") + std::strerror(errno));
            }
            s.classic_insns.push_back(ret.size());
        }
        for (size_t which = 1; which < std::size(expressions); ++which) {
            const char* e = expressions[which];
            auto f = compile_filter(e, 262144);
            s.xdp.push_back(std::make_unique<xdp_filter_program>(f, xdp_filter_options{.exit = filter_exit::verdict}));
            s.xdp_filter.push_back(load_xdp_program(filter_only(f), false, "the filter alone", true));
            auto insns = kernel_style_socket_filter(f);
            std::vector<char> log(1 << 20);
            LIBBPF_OPTS(bpf_prog_load_opts, opts, .log_level = 1, .log_size = uint32_t(log.size()),
                        .log_buf = log.data());
            int fd = bpf_prog_load(BPF_PROG_TYPE_SOCKET_FILTER, "classic", "GPL", insns.data(), insns.size(), &opts);
            if (fd < 0) {
                throw std::runtime_error(std::string("loading the socket filter: ") + std::strerror(errno) + "\n" +
                                         log.data());
            }
            s.classic.emplace_back(fd);
            s.classic_insns.push_back(insns.size());
            // Same verdict on every frame, or the comparison means nothing.
            size_t matches = 0;
            for (uint32_t i = 0; i < packets; ++i) {
                bool x = prog_run(s.xdp.back()->fd(), s.frames[i], 1, nullptr) == XDP_PASS;
                bool alone = prog_run(s.xdp_filter.back().get(), s.frames[i], 1, nullptr) == XDP_PASS;
                bool c = prog_run(fd, s.skb_input[i], 1, nullptr) != 0;
                if (x != c || alone != c) {
                    throw std::runtime_error(std::string("verdicts differ on '") + e + "', frame " + std::to_string(i));
                }
                matches += x;
            }
            std::fprintf(stderr, "%-9s %3zu classic, %3zu XDP, %3zu socket-filter instructions, %zu/%u frames match\n",
                         labels[which], f.classic.size(), s.xdp.back()->instruction_count(),
                         insns.size(), matches, packets);
        }
        return s;
    }();
    return s;
}

enum class side { xdp_program, xdp_filter, socket_filter };

void bench(benchmark::State& state, side which_side) {
    const size_t which = size_t(state.range(0));
    sides* s;
    try {
        s = &setup();
    } catch (const std::exception& e) {
        state.SkipWithError(e.what());
        return;
    }
    const int fd = which_side == side::xdp_program  ? (which == 0 ? s->xdp_filter[0].get() : s->xdp[which]->fd())
                   : which_side == side::xdp_filter ? s->xdp_filter[which].get()
                                                    : s->classic[which].get();
    const auto& inputs = which_side == side::socket_filter ? s->skb_input : s->frames;
    uint32_t i = 0;
    double total = 0;
    for (auto _ : state) {
        double ns = 0;
        prog_run(fd, inputs[i], repeat, &ns);
        state.SetIterationTime(ns * 1e-9);  // one iteration = one packet (the average of `repeat`)
        total += ns;
        i = (i + 1) % packets;
    }
    state.SetLabel(labels[which]);
    state.counters["ns_per_packet"] = total / double(state.iterations());
}

}  // namespace

// The machine is shared: the median of three passes over the frames.
#define XCAP_FILTER_BENCH(name, s)                                                                            \
    BENCHMARK_CAPTURE(bench, name, s)                                                                         \
        ->DenseRange(0, 4)                                                                                    \
        ->UseManualTime()                                                                                     \
        ->Iterations(packets)                                                                                 \
        ->Repetitions(3)                                                                                      \
        ->ReportAggregatesOnly(true)
XCAP_FILTER_BENCH(xdp_program, side::xdp_program);
XCAP_FILTER_BENCH(xdp_filter, side::xdp_filter);
XCAP_FILTER_BENCH(socket_filter, side::socket_filter);

BENCHMARK_MAIN();
