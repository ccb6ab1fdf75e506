// The trace recorders' classic BPF interpreter (bpf/xcap_cbpf.bpf.h), in an
// XDP program of its own (tests/common/cbpf_run.bpf.c) run with
// BPF_PROG_RUN: the differential corpus against libpcap's interpreter on
// records cut at the snaplen, then instruction by instruction. Needs root or CAP_BPF (skips
// without); the preparation tests need nothing.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <linux/filter.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <stdexcept>

#include "cbpf_run.skel.h"
#include "common/error.h"
#include "filter/filter.h"
#include "filter/interpreter.h"
#include "filter_support.h"
#include "frames.h"

using namespace xcap;
using namespace xcap::test;

namespace {

#define SKIP_WITHOUT_BPF()                     \
    do {                                       \
        if (!bpf_skip_reason().empty()) {      \
            GTEST_SKIP() << bpf_skip_reason(); \
        }                                      \
    } while (0)

classic_insn stmt(uint16_t code, uint32_t k) { return {code, 0, 0, k}; }
classic_insn jump(uint16_t code, uint32_t k, uint8_t jt, uint8_t jf) { return {code, jt, jf, k}; }
compiled_filter program(std::vector<classic_insn> insns) {
    return {"(hand-written)", std::move(insns), UINT32_MAX};
}

// A frame of `len` bytes whose byte i is i (mod 256), from a unicast MAC.
std::vector<uint8_t> counting_frame(size_t len) {
    std::vector<uint8_t> f(len);
    for (size_t i = 0; i < len; ++i) {
        f[i] = uint8_t(i);
    }
    f[0] = 0x02;
    return f;
}

// The interpreter loaded with one classic program, as a recorder loads it:
// the length and budget in .rodata, the program written into its map after
// the load.
class interpreter {
public:
    explicit interpreter(const compiled_filter& f) {
        auto p = prepare_interpreter(f, "in the test");
        _skel = cbpf_run_bpf__open();
        if (!_skel) {
            throw std::runtime_error("cannot open the test's interpreter program");
        }
        _skel->rodata->xcap_cbpf_len = uint32_t(p.insns.size());
        _skel->rodata->xcap_cbpf_steps = p.steps;
        if (int err = cbpf_run_bpf__load(_skel); err != 0) {
            cbpf_run_bpf__destroy(_skel);
            throw std::runtime_error("loading the interpreter for '" + f.expression + "': " + std::strerror(-err));
        }
        write_interpreter_program(bpf_map__fd(_skel->maps.xcap_cbpf_prog), p);
    }
    ~interpreter() { cbpf_run_bpf__destroy(_skel); }
    interpreter(const interpreter&) = delete;
    interpreter& operator=(const interpreter&) = delete;

    // The result k on `packet` when at most `snaplen` bytes of it are copied.
    uint32_t run(const std::vector<uint8_t>& packet, uint32_t snaplen = XCAP_TRACE_MAX_CAP,
                 const xdp_run_options& o = {}) {
        _skel->data->snaplen = snaplen;
        _skel->bss->result = 0xdeadbeef;
        auto r = run_xdp(bpf_program__fd(_skel->progs.cbpf_run), packet, o);
        const uint32_t k = _skel->bss->result;
        EXPECT_EQ(r.retval, k ? uint32_t(XDP_PASS) : uint32_t(XDP_DROP));
        return k;
    }

private:
    cbpf_run_bpf* _skel = nullptr;
};

uint32_t result(const compiled_filter& f, const std::vector<uint8_t>& packet, uint32_t snaplen = XCAP_TRACE_MAX_CAP) {
    return interpreter(f).run(packet, snaplen);
}

// The interpreter and libpcap (on a record of min(size, snaplen) bytes)
// both give `expected`.
void expect_result(const compiled_filter& f, const std::vector<uint8_t>& packet, uint32_t expected,
                   uint32_t snaplen = XCAP_TRACE_MAX_CAP) {
    EXPECT_EQ(run_classic(f, packet, snaplen), expected) << "libpcap's interpreter";
    EXPECT_EQ(result(f, packet, snaplen), expected) << "the interpreter";
}

struct tally {
    uint64_t matches = 0, non_matches = 0, skipped = 0, differences = 0;
};

void compare(const char* expr, const std::vector<std::vector<uint8_t>>& packets, uint32_t snaplen, tally& t,
             const std::string& source) {
    SCOPED_TRACE(expr);
    // Compiled as trace compiles it: matches return the snaplen.
    compiled_filter f = compile_filter(expr, snaplen);
    interpreter in(f);
    for (size_t i = 0; i < packets.size(); ++i) {
        const auto& p = packets[i];
        if (p.size() < 14 || p.size() > 0xffff) {
            ++t.skipped;  // BPF_PROG_RUN refuses a frame under 14 bytes; none has more than 64 KiB
            continue;
        }
        const uint32_t want = run_classic(f, p, snaplen);
        const uint32_t got = in.run(p, snaplen);
        if (got != want && ++t.differences <= 20) {
            ADD_FAILURE() << source << " packet " << i << " (" << p.size() << " bytes, snaplen " << snaplen
                          << "): libpcap " << want << ", interpreter " << got;
        }
        (want != 0 ? t.matches : t.non_matches)++;
    }
}

void run_corpus(const std::vector<std::vector<uint8_t>>& packets, uint32_t snaplen, const std::string& source) {
    auto start = std::chrono::steady_clock::now();
    tally t;
    for (const char* expr : filter_corpus()) {
        compare(expr, packets, snaplen, t, source);
    }
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("%s, snaplen %u: %zu expressions x %zu packets: %llu matches, %llu non-matches, %llu differences "
                "(skipped: %llu under 14 bytes or over 65535), %.1f s\n",
                source.c_str(), snaplen, filter_corpus().size(), packets.size(), (unsigned long long)t.matches,
                (unsigned long long)t.non_matches, (unsigned long long)t.differences, (unsigned long long)t.skipped,
                secs);
    EXPECT_GE(filter_corpus().size(), 150u);
    EXPECT_EQ(t.differences, 0u);
    // An interpreter that matched everything (or nothing) would show here.
    EXPECT_GT(t.matches, 0u);
    EXPECT_GT(t.non_matches, 0u);
}

}  // namespace

// ---- preparation (no privileges) -------------------------------------------

TEST(TraceFilterPrepare, RefusesWhatHasNoMeaningInXdpWithOneLine) {
    auto refused = [](std::vector<classic_insn> insns, const char* says) {
        try {
            prepare_interpreter(program(std::move(insns)), "in xcap trace");
            ADD_FAILURE() << "prepared";
        } catch (const failure& e) {
            EXPECT_EQ(e.kind(), failure_kind::usage);
            EXPECT_NE(std::string(e.what()).find(says), std::string::npos) << e.what();
            EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
        }
    };
    refused({stmt(BPF_LD | BPF_W | BPF_ABS, uint32_t(SKF_AD_OFF + SKF_AD_MARK)), stmt(BPF_RET | BPF_A, 0)},
            "the filter cannot run in xcap trace: instruction 0 uses the Linux ancillary load 'mark'");
    refused({stmt(BPF_LD | BPF_W | BPF_ABS, uint32_t(SKF_AD_OFF + SKF_AD_RXHASH)), stmt(BPF_RET | BPF_A, 0)},
            "'rxhash'");
    refused({stmt(BPF_LD | BPF_B | BPF_ABS, uint32_t(SKF_AD_OFF + SKF_AD_VLAN_TAG_PRESENT)), stmt(BPF_RET | BPF_A, 0)},
            "'vlan_avail'");
    refused({stmt(BPF_LD | BPF_W | BPF_ABS, uint32_t(SKF_NET_OFF)), stmt(BPF_RET | BPF_A, 0)}, "network header");
    refused({stmt(BPF_LDX | BPF_MSH | BPF_B, uint32_t(SKF_AD_OFF)), stmt(BPF_RET | BPF_A, 0)}, "ldxb msh");
    refused({stmt(0xff, 0), stmt(BPF_RET | BPF_A, 0)}, "opcode");
    refused({stmt(BPF_ST, 16), stmt(BPF_RET | BPF_A, 0)}, "M[16]");
    refused(std::vector<classic_insn>(XCAP_CBPF_MAX_INSNS + 1, stmt(BPF_RET | BPF_K, 1)), "4097 classic instructions");
    std::vector<classic_insn> loops;
    for (int i = 0; i < XCAP_CBPF_MAX_LOOPS + 1; ++i) {
        loops.push_back(stmt(BPF_LD | BPF_IMM, 1));
        loops.push_back(stmt(BPF_JMP | BPF_JA, uint32_t(-2)));
    }
    refused(loops, "more than 32 loops");
    // A bad expression is libpcap's message (compile_filter), before any of this.
    EXPECT_THROW(compile_filter("port 99999", 16384), failure);
}

TEST(TraceFilterPrepare, NumbersLoopsAndSetsTheStepBudget) {
    auto none = prepare_interpreter(compile_filter("tcp port 80", 16384), "in xcap trace");
    EXPECT_EQ(none.loops, 0u);
    EXPECT_EQ(none.steps, none.insns.size() + 1);
    // Two loops with two back-jumps each into the first, one into the second.
    auto p = prepare_interpreter(program({stmt(BPF_LD | BPF_IMM, 0),                  // 0: loop 0's head
                                          stmt(BPF_JMP | BPF_JA, uint32_t(-2)),        // 1 → 0
                                          stmt(BPF_JMP | BPF_JA, uint32_t(-3)),        // 2 → 0
                                          stmt(BPF_LD | BPF_IMM, 0),                   // 3: loop 1's head
                                          jump(BPF_JMP | BPF_JA, uint32_t(-2), 7, 7),  // 4 → 3
                                          stmt(BPF_JMP | BPF_JA, uint32_t(-1)),        // 5 → itself
                                          stmt(BPF_LD | BPF_B | BPF_ABS, uint32_t(SKF_LL_OFF + 12)),
                                          stmt(BPF_LDX | BPF_MSH | BPF_B, uint32_t(SKF_LL_OFF + 14)),
                                          stmt(BPF_LD | BPF_B | BPF_ABS, uint32_t(SKF_AD_OFF + SKF_AD_IFINDEX)),
                                          stmt(BPF_RET | BPF_K, 1)}),
                                 "in xcap trace");
    EXPECT_EQ(p.loops, 2u);
    EXPECT_EQ(p.insns[1].jt, 0);
    EXPECT_EQ(p.insns[2].jt, 0);
    EXPECT_EQ(p.insns[4].jt, 1);
    EXPECT_EQ(p.insns[4].jf, 0);
    EXPECT_EQ(p.insns[5].code, BPF_RET | BPF_K);
    EXPECT_EQ(p.insns[5].k, 0u);
    EXPECT_EQ(p.insns[6].k, 12u);
    EXPECT_EQ(p.insns[7].k, 14u);
    EXPECT_EQ(p.insns[8].k, uint32_t(SKF_AD_OFF + SKF_AD_IFINDEX));
    EXPECT_EQ(p.steps, 11u * (1 + 64 * 2));
}

// ---- the interpreter against libpcap, the whole corpus -----------------------

TEST(TraceFilterDifferential, GeneratedTrafficAgreesWithLibpcap) {
    SKIP_WITHOUT_BPF();
    auto packets = generated_filter_traffic();
    for (uint32_t seq = 0; seq < 12; ++seq) {
        auto f = build_frame(seq);
        f.resize(9000, uint8_t(seq));
        packets.push_back(std::move(f));
    }
    // The trace's largest snaplen (jumbo frames whole), and tcpdump's old
    // default, which cuts most frames: loads past the copy do not match, and
    // `len` is still the whole frame.
    run_corpus(packets, XCAP_TRACE_MAX_CAP, "generated traffic");
    run_corpus(packets, 68, "generated traffic");
}

TEST(TraceFilterDifferential, SharedCapturesAgreeWithLibpcap) {
    SKIP_WITHOUT_BPF();
    auto shared = load_shared_captures(XCAP_TESTDATA_DIR "/tcpdump-tests");
    if (shared.files == 0) {
        GTEST_SKIP() << XCAP_TESTDATA_DIR "/tcpdump-tests is absent (../shared is not beside the project)";
    }
    ASSERT_GE(shared.ethernet_files, 200u);
    run_corpus(shared.packets, XCAP_TRACE_MAX_CAP, "shared captures");
}

// The random classic programs the translator is tested with (ret a, jset x,
// shifts and division by X, loads at the edges of short frames): each loads,
// and agrees with libpcap on every frame.
TEST(TraceFilterDifferential, RandomClassicProgramsAgreeWithLibpcap) {
    SKIP_WITHOUT_BPF();
    const auto set = random_classic_programs();
    uint64_t matches = 0, non_matches = 0, differences = 0;
    for (const compiled_filter& f : set.programs) {
        SCOPED_TRACE(f.expression);
        std::unique_ptr<interpreter> in;
        try {
            in = std::make_unique<interpreter>(f);
        } catch (const std::exception& e) {
            ADD_FAILURE() << e.what() << "\n" << dump_classic(f);
            continue;
        }
        for (size_t i = 0; i < set.frames.size(); ++i) {
            const uint32_t want = run_classic(f, set.frames[i]);
            const uint32_t got = in->run(set.frames[i]);
            if (got != want && ++differences <= 10) {
                ADD_FAILURE() << "frame " << i << " (" << set.frames[i].size() << " bytes): libpcap " << want
                              << ", interpreter " << got << "\n" << dump_classic(f);
            }
            (want != 0 ? matches : non_matches)++;
        }
    }
    std::printf("%zu random programs x %zu frames: %llu matches, %llu non-matches, %llu differences\n",
                set.programs.size(), set.frames.size(), (unsigned long long)matches, (unsigned long long)non_matches,
                (unsigned long long)differences);
    EXPECT_EQ(differences, 0u);
    EXPECT_GT(matches, 0u);
    EXPECT_GT(non_matches, 0u);
}

// ---- instruction by instruction ------------------------------------------------

TEST(TraceFilterInterpreter, DivisionOrModuloByZeroIsNoMatch) {
    SKIP_WITHOUT_BPF();
    auto pkt = counting_frame(60);
    for (uint16_t op : {BPF_DIV, BPF_MOD}) {
        EXPECT_EQ(result(program({stmt(BPF_LD | BPF_IMM, 7), stmt(uint16_t(BPF_ALU | op | BPF_K), 0),
                                  stmt(BPF_RET | BPF_K, 1)}),
                         pkt),
                  0u);
        expect_result(program({stmt(BPF_LD | BPF_IMM, 7), stmt(BPF_LDX | BPF_IMM, 0), stmt(uint16_t(BPF_ALU | op | BPF_X), 0),
                               stmt(BPF_RET | BPF_K, 1)}),
                      pkt, 0);
        expect_result(program({stmt(BPF_LD | BPF_IMM, 7), stmt(BPF_LDX | BPF_IMM, 2), stmt(uint16_t(BPF_ALU | op | BPF_X), 0),
                               stmt(BPF_RET | BPF_A, 0)}),
                      pkt, op == BPF_DIV ? 3 : 1);
    }
    // Shifts of 32 or more give 0 (eBPF would mask them to 5 bits).
    expect_result(program({stmt(BPF_LD | BPF_IMM, 0xff), stmt(BPF_LDX | BPF_IMM, 32), stmt(BPF_ALU | BPF_LSH | BPF_X, 0),
                           stmt(BPF_ALU | BPF_ADD | BPF_K, 5), stmt(BPF_RET | BPF_A, 0)}),
                  pkt, 5);
    EXPECT_EQ(result(program({stmt(BPF_LD | BPF_IMM, 0xff), stmt(BPF_ALU | BPF_RSH | BPF_K, 40),
                              stmt(BPF_ALU | BPF_ADD | BPF_K, 5), stmt(BPF_RET | BPF_A, 0)}),
                     pkt),
              5u);
    expect_result(program({stmt(BPF_LD | BPF_IMM, 5), stmt(BPF_ALU | BPF_NEG, 0), stmt(BPF_RET | BPF_A, 0)}), pkt,
                  uint32_t(-5));
}

TEST(TraceFilterInterpreter, LoadsOutsideTheCopyAreNoMatch) {
    SKIP_WITHOUT_BPF();
    auto pkt = counting_frame(40);
    auto abs = [](uint16_t size, uint32_t k) {
        return program({stmt(BPF_LD | size | BPF_ABS, k), stmt(BPF_RET | BPF_A, 0)});
    };
    expect_result(abs(BPF_W, 36), pkt, 0x24252627);
    expect_result(abs(BPF_W, 37), pkt, 0);
    expect_result(abs(BPF_H, 38), pkt, 0x2627);
    expect_result(abs(BPF_H, 39), pkt, 0);
    expect_result(abs(BPF_B, 39), pkt, 0x27);
    expect_result(abs(BPF_B, 40), pkt, 0);
    expect_result(abs(BPF_W, 0x7fffffff), pkt, 0);
    // Cut at a snaplen of 20: the bytes past it are not there, though the
    // frame has them; `len` is still the whole frame.
    expect_result(abs(BPF_B, 19), pkt, 19, 20);
    expect_result(abs(BPF_B, 20), pkt, 0, 20);
    expect_result(abs(BPF_W, 17), pkt, 0, 20);
    expect_result(program({stmt(BPF_LD | BPF_W | BPF_LEN, 0), stmt(BPF_RET | BPF_A, 0)}), pkt, 40, 20);
    // Indirect: X + k without wrapping.
    auto ind = [](uint32_t x, uint16_t size, uint32_t k) {
        return program({stmt(BPF_LDX | BPF_IMM, x), stmt(BPF_LD | size | BPF_IND, k), stmt(BPF_RET | BPF_A, 0)});
    };
    expect_result(ind(30, BPF_W, 6), pkt, 0x24252627);
    expect_result(ind(30, BPF_W, 7), pkt, 0);
    expect_result(ind(0xffffffff, BPF_B, 1), pkt, 0);
    expect_result(ind(0xfffffff0, BPF_W, 0x10), pkt, 0);
    expect_result(ind(0, BPF_B, 0x10000), pkt, 0);
    // ldx msh: four times the low nibble; past the copy, no match.
    auto msh = pkt;
    msh[14] = 0x4f;
    expect_result(program({stmt(BPF_LDX | BPF_MSH | BPF_B, 14), stmt(BPF_MISC | BPF_TXA, 0), stmt(BPF_RET | BPF_A, 0)}),
                  msh, 60);
    expect_result(program({stmt(BPF_LDX | BPF_MSH | BPF_B, 40), stmt(BPF_RET | BPF_K, 1)}), msh, 0);
    // A failed load ends the program even where A would match.
    expect_result(program({stmt(BPF_LD | BPF_IMM, 7), stmt(BPF_LD | BPF_B | BPF_ABS, 40), stmt(BPF_RET | BPF_A, 0)}),
                  pkt, 0);
    // The largest copy: the last byte of a 16 KiB snaplen is there, the one after is not.
    auto big = counting_frame(XCAP_TRACE_MAX_CAP + 100);
    expect_result(abs(BPF_B, XCAP_TRACE_MAX_CAP - 1), big, uint8_t(XCAP_TRACE_MAX_CAP - 1));
    expect_result(abs(BPF_B, XCAP_TRACE_MAX_CAP), big, 0);
    expect_result(abs(BPF_W, XCAP_TRACE_MAX_CAP - 4), big, 0xfcfdfeff);
    expect_result(abs(BPF_W, XCAP_TRACE_MAX_CAP - 3), big, 0);
}

TEST(TraceFilterInterpreter, ScratchMemoryStartsAtZeroForEveryPacket) {
    SKIP_WITHOUT_BPF();
    std::vector<classic_insn> p;
    for (uint32_t i = 0; i < 16; ++i) {
        p.push_back(stmt(BPF_LD | BPF_IMM, 1u << i));
        if (i % 2) {
            p.push_back(stmt(BPF_ST, i));
        } else {
            p.push_back(stmt(BPF_MISC | BPF_TAX, 0));
            p.push_back(stmt(BPF_STX, i));
        }
    }
    p.push_back(stmt(BPF_LD | BPF_IMM, 0));
    for (uint32_t i = 0; i < 16; ++i) {
        p.push_back(stmt(BPF_LDX | BPF_MEM, i));
        p.push_back(stmt(BPF_ALU | BPF_OR | BPF_X, 0));
    }
    p.push_back(stmt(BPF_RET | BPF_A, 0));
    auto pkt = counting_frame(60);
    expect_result(program(p), pkt, 0xffff);
    // The state is per CPU and outlives a packet: M[] written by one packet
    // must read 0 in the next. M[5] + 3 after a program that stores into it
    // (same loaded program: a store guarded by the first byte).
    interpreter in(program({stmt(BPF_LD | BPF_MEM, 5), stmt(BPF_ALU | BPF_ADD | BPF_K, 3), stmt(BPF_MISC | BPF_TAX, 0),
                            stmt(BPF_LD | BPF_IMM, 77), stmt(BPF_ST, 5), stmt(BPF_MISC | BPF_TXA, 0),
                            stmt(BPF_RET | BPF_A, 0)}));
    EXPECT_EQ(in.run(pkt), 3u);
    EXPECT_EQ(in.run(pkt), 3u);
    // And A and X start at 0.
    expect_result(program({stmt(BPF_ALU | BPF_ADD | BPF_X, 0), stmt(BPF_ALU | BPF_ADD | BPF_K, 9), stmt(BPF_RET | BPF_A, 0)}),
                  pkt, 9);
}

TEST(TraceFilterInterpreter, ReturnsKOrAAndLeavingTheProgramIsNoMatch) {
    SKIP_WITHOUT_BPF();
    auto pkt = counting_frame(60);
    expect_result(program({stmt(BPF_RET | BPF_K, 1234)}), pkt, 1234);
    expect_result(program({stmt(BPF_RET | BPF_K, 0xffffffff)}), pkt, 0xffffffff);
    expect_result(program({stmt(BPF_LD | BPF_IMM, 99), stmt(BPF_RET | BPF_A, 0)}), pkt, 99);
    expect_result(program({stmt(BPF_RET | BPF_K, 0), stmt(BPF_RET | BPF_K, 5)}), pkt, 0);
    // Running off the end, and jumping past it.
    EXPECT_EQ(result(program({stmt(BPF_LD | BPF_IMM, 1)}), pkt), 0u);
    EXPECT_EQ(result(program({stmt(BPF_JMP | BPF_JA, 5), stmt(BPF_RET | BPF_K, 1)}), pkt), 0u);
    EXPECT_EQ(result(program({stmt(BPF_LD | BPF_IMM, 1), jump(BPF_JMP | BPF_JEQ | BPF_K, 1, 9, 0),
                              stmt(BPF_RET | BPF_K, 1)}),
                     pkt),
              0u);
    // Conditional jumps compare 32 bits unsigned.
    auto cmp = [](uint16_t op, uint32_t a, uint32_t k) {
        return program({stmt(BPF_LD | BPF_IMM, a), jump(uint16_t(BPF_JMP | op | BPF_K), k, 0, 1), stmt(BPF_RET | BPF_K, 2),
                        stmt(BPF_RET | BPF_K, 3)});
    };
    expect_result(cmp(BPF_JGT, 0x80000000, 1), pkt, 2);
    expect_result(cmp(BPF_JGE, 5, 5), pkt, 2);
    expect_result(cmp(BPF_JGT, 5, 5), pkt, 3);
    expect_result(cmp(BPF_JEQ, 7, 7), pkt, 2);
    expect_result(cmp(BPF_JSET, 6, 1), pkt, 3);
    expect_result(program({stmt(BPF_LD | BPF_IMM, 6), stmt(BPF_LDX | BPF_IMM, 4), jump(BPF_JMP | BPF_JSET | BPF_X, 0, 0, 1),
                           stmt(BPF_RET | BPF_K, 2), stmt(BPF_RET | BPF_K, 3)}),
                  pkt, 2);
}

TEST(TraceFilterInterpreter, BackwardJumpsLoopAtMostSixtyFourTimesPerLoop) {
    SKIP_WITHOUT_BPF();
    auto pkt = counting_frame(60);
    auto loop = [](uint32_t limit) {
        return program({stmt(BPF_ALU | BPF_ADD | BPF_K, 1), jump(BPF_JMP | BPF_JGT | BPF_K, limit, 1, 0),
                        stmt(BPF_JMP | BPF_JA, uint32_t(-3)), stmt(BPF_RET | BPF_A, 0)});
    };
    expect_result(loop(10), pkt, 11);
    expect_result(loop(64), pkt, 65);
    EXPECT_EQ(result(loop(100), pkt), 0u);  // the 65th jump back (libpcap 1.10 has no limit: 101)
    // Two loops one after the other: 64 each.
    EXPECT_EQ(result(program({stmt(BPF_ALU | BPF_ADD | BPF_K, 1), jump(BPF_JMP | BPF_JGT | BPF_K, 64, 1, 0),
                              stmt(BPF_JMP | BPF_JA, uint32_t(-3)), stmt(BPF_ALU | BPF_ADD | BPF_K, 1),
                              jump(BPF_JMP | BPF_JGT | BPF_K, 129, 1, 0), stmt(BPF_JMP | BPF_JA, uint32_t(-3)),
                              stmt(BPF_RET | BPF_A, 0)}),
                     pkt),
              130u);
    // Per packet: the counts start again.
    interpreter in(loop(64));
    EXPECT_EQ(in.run(pkt), 65u);
    EXPECT_EQ(in.run(pkt), 65u);
    // A jump to itself: no match, not a hang.
    EXPECT_EQ(result(program({stmt(BPF_LD | BPF_IMM, 1), stmt(BPF_JMP | BPF_JA, uint32_t(-1))}), pkt), 0u);
    // protochain over 40 IPv6 extension headers (40 jumps back).
    auto udp6 = build_frame(3);
    ASSERT_EQ(kind_of(3), frame_kind::udp6);
    std::vector<uint8_t> many(udp6.begin(), udp6.begin() + 54);
    many[20] = 60;
    for (int i = 0; i < 40; ++i) {
        many.insert(many.end(), {uint8_t(i == 39 ? 17 : 60), 0, 0, 0, 0, 0, 0, 0});
    }
    many.insert(many.end(), udp6.begin() + 54, udp6.end());
    auto chain = compile_filter("ip6 protochain 17 or ip6 protochain 6", 16384);
    expect_result(chain, many, 16384);
    expect_result(chain, udp6, 16384);
    expect_result(chain, build_frame(0), 0);
}

TEST(TraceFilterInterpreter, AncillaryLoadsHaveTheirXdpMeaning) {
    SKIP_WITHOUT_BPF();
    auto anc = [](uint32_t n) {
        return program({stmt(BPF_LD | BPF_W | BPF_ABS, uint32_t(SKF_AD_OFF) + n), stmt(BPF_RET | BPF_A, 0)});
    };
    auto ip4 = build_frame(0);
    auto ip6 = build_frame(3);
    auto llc = counting_frame(60);
    llc[12] = 0x00;
    llc[13] = 0x2e;
    auto raw8023 = llc;
    raw8023[14] = raw8023[15] = 0xff;
    EXPECT_EQ(result(anc(SKF_AD_PROTOCOL), ip4), 0x0800u);
    EXPECT_EQ(result(anc(SKF_AD_PROTOCOL), ip6), 0x86ddu);
    EXPECT_EQ(result(anc(SKF_AD_PROTOCOL), llc), 0x0004u);
    EXPECT_EQ(result(anc(SKF_AD_PROTOCOL), raw8023), 0x0001u);
    EXPECT_EQ(result(anc(SKF_AD_PROTOCOL), raw8023, 15), 0x0004u);  // the payload's start not copied: 802.2
    EXPECT_EQ(result(anc(SKF_AD_PROTOCOL), ip4, 13), 0u);            // the EtherType not copied: no match

    auto unicast = counting_frame(60);
    auto multicast = unicast;
    multicast[0] = 0x01;
    auto broadcast = unicast;
    std::memset(broadcast.data(), 0xff, 6);
    auto almost = broadcast;
    almost[5] = 0xfe;
    auto pkttype = program({stmt(BPF_LD | BPF_H | BPF_ABS, uint32_t(SKF_AD_OFF + SKF_AD_PKTTYPE)),
                            stmt(BPF_ALU | BPF_ADD | BPF_K, 1), stmt(BPF_RET | BPF_A, 0)});
    EXPECT_EQ(result(pkttype, unicast), 1u);
    EXPECT_EQ(result(pkttype, broadcast), 2u);
    EXPECT_EQ(result(pkttype, multicast), 3u);
    EXPECT_EQ(result(pkttype, almost), 3u);
    for (const auto* f : {&unicast, &broadcast, &multicast, &ip4}) {
        EXPECT_EQ(result(compile_filter("inbound", 16384), *f), 16384u);
        EXPECT_EQ(result(compile_filter("outbound", 16384), *f), 0u);
    }

    interpreter ifindex(compile_filter("ifindex 1", 16384));  // BPF_PROG_RUN's frames arrive on lo
    EXPECT_EQ(ifindex.run(ip4, XCAP_TRACE_MAX_CAP, {.ingress_ifindex = 1}), 16384u);
    EXPECT_EQ(result(compile_filter("ifindex 2", 16384), ip4), 0u);
    interpreter queue(program({stmt(BPF_LD | BPF_W | BPF_ABS, uint32_t(SKF_AD_OFF + SKF_AD_QUEUE)),
                               stmt(BPF_ALU | BPF_ADD | BPF_K, 1), stmt(BPF_RET | BPF_A, 0)}));
    EXPECT_EQ(queue.run(ip4), 1u);
    uint32_t cpu = result(program({stmt(BPF_LD | BPF_W | BPF_ABS, uint32_t(SKF_AD_OFF + SKF_AD_CPU)),
                                   stmt(BPF_ALU | BPF_ADD | BPF_K, 1), stmt(BPF_RET | BPF_A, 0)}),
                          ip4);
    EXPECT_GE(cpu, 1u);
    EXPECT_LE(cpu, uint32_t(sysconf(_SC_NPROCESSORS_CONF)));
    interpreter rnd(anc(SKF_AD_RANDOM));
    uint32_t first = rnd.run(ip4);
    bool differs = false;
    for (int i = 0; i < 4 && !differs; ++i) {
        differs = rnd.run(ip4) != first;
    }
    EXPECT_TRUE(differs);
    EXPECT_EQ(result(program({stmt(BPF_LD | BPF_IMM, 0xf0), stmt(BPF_LDX | BPF_IMM, 0x0f),
                              stmt(BPF_LD | BPF_B | BPF_ABS, uint32_t(SKF_AD_OFF + SKF_AD_ALU_XOR_X)),
                              stmt(BPF_RET | BPF_A, 0)}),
                     ip4),
              0xffu);
    EXPECT_EQ(result(program({stmt(BPF_LD | BPF_H | BPF_ABS, uint32_t(SKF_LL_OFF + 12)), stmt(BPF_RET | BPF_A, 0)}), ip4),
              0x0800u);
}
