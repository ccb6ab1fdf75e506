// filter/: compiling expressions (no privileges), and the translator
// instruction by instruction through BPF_PROG_RUN, each result checked
// against the expected value and against libpcap's own interpreter.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <gtest/gtest.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <limits>

#include "filter/filter.h"
#include "filter/translate.h"
#include "filter_support.h"
#include "frames.h"
#include "tools.h"
#include "xcap_rx.skel.h"

using namespace xcap;
using namespace xcap::test;

namespace {

#define SKIP_WITHOUT_BPF()                          \
    do {                                            \
        if (!bpf_skip_reason().empty()) {           \
            GTEST_SKIP() << bpf_skip_reason();      \
        }                                           \
    } while (0)

constexpr uint32_t no_cap_threshold = std::numeric_limits<uint32_t>::max();

classic_insn stmt(uint16_t code, uint32_t k) { return {code, 0, 0, k}; }
classic_insn jump(uint16_t code, uint32_t k, uint8_t jt, uint8_t jf) { return {code, jt, jf, k}; }

// A hand-written classic program. Its cap threshold is UINT32_MAX, so that
// where a test reads the metadata's cap, it is the filter's result k.
compiled_filter program(std::vector<classic_insn> insns) {
    return {"(hand-written)", std::move(insns), no_cap_threshold};
}

// A frame of `len` bytes whose byte i is i (mod 256), from a unicast MAC.
std::vector<uint8_t> counting_frame(size_t len) {
    std::vector<uint8_t> f(len);
    for (size_t i = 0; i < len; ++i) {
        f[i] = uint8_t(i);
    }
    f[0] = 0x02;  // unicast, locally administered
    return f;
}

// The result k of the filter on `packet` as XDP computes it (0: no match),
// through the tests' own exit (k_program).
uint32_t xdp_result(const compiled_filter& f, const std::vector<uint8_t>& packet, xdp_filter_options o = {}) {
    auto r = k_program(f, o.frags).run(packet);
    EXPECT_EQ(r.retval, r.k ? uint32_t(XDP_PASS) : uint32_t(XDP_DROP));
    return r.k;
}

// XDP and libpcap both give `expected`.
void expect_result(const compiled_filter& f, const std::vector<uint8_t>& packet, uint32_t expected) {
    EXPECT_EQ(run_classic(f, packet), expected) << "libpcap's interpreter";
    EXPECT_EQ(xdp_result(f, packet), expected) << "the XDP translation";
}

}  // namespace

TEST(FilterCompile, ExpressionErrorsCarryLibpcapsTextAndTheExpression) {
    struct bad {
        const char* expr;
        const char* libpcap_says;
    } cases[] = {
        {"tcp port", "syntax error"},
        {"udp[8:2] / 0 = 1", "division by zero"},
        {"ip[0] << 40 = 1", "shift by more than 31 bits"},
        {"host 999.1.1.1", "999.1.1.1"},
        {"ip broadcast", "netmask not known"},
        {"tcp and udp", "expression rejects all packets"},  // optimised to `ret #0`
    };
    for (const auto& c : cases) {
        try {
            compile_filter(c.expr, 262144);
            ADD_FAILURE() << c.expr << " compiled";
        } catch (const failure& e) {
            EXPECT_EQ(e.kind(), failure_kind::usage);
            std::string what = e.what();
            EXPECT_NE(what.find(std::string("'") + c.expr + "'"), std::string::npos) << what;
            EXPECT_NE(what.find(c.libpcap_says), std::string::npos) << what;
        }
    }
}

TEST(FilterCompile, SnaplenIsTheMatchResultAndZeroMeansTcpdumpsDefault) {
    auto f = compile_filter("ip", 96);
    EXPECT_EQ(f.snaplen, 96u);
    EXPECT_EQ(f.classic.back().code, BPF_RET | BPF_K);
    EXPECT_EQ(f.classic[f.classic.size() - 2].k, 96u);
    EXPECT_EQ(compile_filter("ip", 0).snaplen, 262144u);
    auto all = compile_filter("", 128);
    ASSERT_EQ(all.classic.size(), 1u);
    EXPECT_EQ(all.classic[0].k, 128u);
}

TEST(FilterCompile, DumpIsWhatTcpdumpDashDPrints) {
    if (!have_tool("tcpdump")) {
        GTEST_SKIP() << "tcpdump is not installed";
    }
    temp_dir dir;
    // An empty Ethernet capture with snaplen 262144: tcpdump -d -r compiles
    // for its link type and snaplen.
    const uint8_t header[24] = {0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 1, 0, 0, 0};
    std::string path = dir.file("empty.pcap");
    FILE* f = std::fopen(path.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    std::fwrite(header, 1, sizeof(header), f);
    std::fclose(f);
    for (const char* expr : {"tcp port 443", "vlan 10 and udp", "ip[2:2] > 576", "ip6 protochain 6", "len > 100"}) {
        auto td = run_command("tcpdump -d -r " + shell_quote(path) + " " + shell_quote(expr));
        ASSERT_EQ(td.status, 0) << expr;
        // Without its "reading from file ..." line (on stderr, merged here).
        std::string out = td.output;
        if (out.rfind("reading from file", 0) == 0) {
            out.erase(0, out.find('\n') + 1);
        }
        EXPECT_EQ(dump_classic(compile_filter(expr, 262144)), out) << expr;
    }
}

TEST(FilterTranslate, RefusesWhatHasNoMeaningInXdp) {
    auto refused = [](std::vector<classic_insn> insns, const char* says) {
        try {
            translate(program(std::move(insns)));
            ADD_FAILURE() << "translated";
        } catch (const failure& e) {
            EXPECT_EQ(e.kind(), failure_kind::usage);
            EXPECT_NE(std::string(e.what()).find(says), std::string::npos) << e.what();
        }
    };
    refused({stmt(BPF_LD | BPF_W | BPF_ABS, uint32_t(SKF_AD_OFF + SKF_AD_MARK)), stmt(BPF_RET | BPF_A, 0)}, "'mark'");
    refused({stmt(BPF_LD | BPF_W | BPF_ABS, uint32_t(SKF_AD_OFF + SKF_AD_HATYPE)), stmt(BPF_RET | BPF_A, 0)},
            "'hatype'");
    refused({stmt(BPF_LD | BPF_B | BPF_ABS, uint32_t(SKF_AD_OFF + SKF_AD_VLAN_TAG_PRESENT)), stmt(BPF_RET | BPF_A, 0)},
            "'vlan_avail'");
    refused({stmt(BPF_LD | BPF_W | BPF_ABS, uint32_t(SKF_NET_OFF)), stmt(BPF_RET | BPF_A, 0)}, "network header");
    refused({stmt(0xff, 0), stmt(BPF_RET | BPF_A, 0)}, "opcode");
    refused({stmt(BPF_ST, 16), stmt(BPF_RET | BPF_A, 0)}, "M[16]");
}

TEST(FilterTranslate, AbsoluteLoadsAreBigEndianAndBoundsChecked) {
    SKIP_WITHOUT_BPF();
    auto pkt = counting_frame(20);
    auto load = [](uint16_t size, uint32_t k) {
        return program({stmt(BPF_LD | size | BPF_ABS, k), stmt(BPF_RET | BPF_A, 0)});
    };
    expect_result(load(BPF_W, 16), pkt, 0x10111213);
    expect_result(load(BPF_W, 17), pkt, 0);
    expect_result(load(BPF_H, 18), pkt, 0x1213);
    expect_result(load(BPF_H, 19), pkt, 0);
    expect_result(load(BPF_B, 19), pkt, 0x13);
    expect_result(load(BPF_B, 20), pkt, 0);
    expect_result(load(BPF_W, 0x7fffffff), pkt, 0);  // can never fit
    expect_result(load(BPF_H, 0xfffe), pkt, 0);      // at the verifier's limit
    // A failed load ends the program even where A would be non-zero.
    expect_result(program({stmt(BPF_LD | BPF_IMM, 7), stmt(BPF_LD | BPF_B | BPF_ABS, 20), stmt(BPF_RET | BPF_K, 1)}),
                  pkt, 0);
    // The same load twice: the second one's check is elided, not its effect.
    expect_result(program({stmt(BPF_LD | BPF_H | BPF_ABS, 12), stmt(BPF_LD | BPF_H | BPF_ABS, 12),
                           stmt(BPF_RET | BPF_A, 0)}),
                  pkt, 0x0c0d);
    auto short_pkt = counting_frame(14);
    expect_result(program({stmt(BPF_LD | BPF_H | BPF_ABS, 12), jump(BPF_JMP | BPF_JEQ | BPF_K, 0x0c0d, 0, 1),
                           stmt(BPF_LD | BPF_B | BPF_ABS, 14), stmt(BPF_RET | BPF_K, 9)}),
                  short_pkt, 0);
}

TEST(FilterTranslate, IndirectLoadsAddWithoutWrapping) {
    SKIP_WITHOUT_BPF();
    auto pkt = counting_frame(40);
    auto ind = [](uint32_t x, uint16_t size, uint32_t k) {
        return program({stmt(BPF_LDX | BPF_IMM, x), stmt(BPF_LD | size | BPF_IND, k), stmt(BPF_RET | BPF_A, 0)});
    };
    expect_result(ind(30, BPF_W, 6), pkt, 0x24252627);
    expect_result(ind(30, BPF_W, 7), pkt, 0);
    expect_result(ind(0, BPF_H, 38), pkt, 0x2627);
    expect_result(ind(38, BPF_H, 1), pkt, 0);
    expect_result(ind(39, BPF_B, 0), pkt, 0x27);
    expect_result(ind(39, BPF_B, 1), pkt, 0);
    // X + k past 2^32 would wrap to 0 or 1 in 32 bits: still out of bounds.
    expect_result(ind(0xffffffff, BPF_B, 1), pkt, 0);
    expect_result(ind(0xffffffff, BPF_B, 2), pkt, 0);
    expect_result(ind(0xfffffff0, BPF_W, 0x10), pkt, 0);
    expect_result(ind(0, BPF_B, 0x10000), pkt, 0);
}

TEST(FilterTranslate, LdxMshIsFourTimesTheLowNibble) {
    SKIP_WITHOUT_BPF();
    auto pkt = counting_frame(64);
    pkt[14] = 0x4f;
    expect_result(program({stmt(BPF_LDX | BPF_MSH | BPF_B, 14), stmt(BPF_MISC | BPF_TXA, 0), stmt(BPF_RET | BPF_A, 0)}),
                  pkt, 60);
    // As libpcap uses it: the byte just past a 60-byte IPv4 header.
    expect_result(program({stmt(BPF_LDX | BPF_MSH | BPF_B, 14), stmt(BPF_LD | BPF_B | BPF_IND, 3),
                           stmt(BPF_RET | BPF_A, 0)}),
                  pkt, 63);
    expect_result(program({stmt(BPF_LDX | BPF_MSH | BPF_B, 64), stmt(BPF_RET | BPF_K, 1)}), pkt, 0);
}

TEST(FilterTranslate, ScratchMemoryHoldsSixteenWordsStartingAtZero) {
    SKIP_WITHOUT_BPF();
    std::vector<classic_insn> p;
    for (uint32_t i = 0; i < 16; ++i) {
        p.push_back(stmt(BPF_LD | BPF_IMM, 1u << i));
        p.push_back(stmt(i % 2 ? BPF_ST : BPF_STX, i));
        if (i % 2 == 0) {
            p.insert(p.end() - 1, stmt(BPF_MISC | BPF_TAX, 0));
        }
    }
    p.push_back(stmt(BPF_LD | BPF_IMM, 0));
    for (uint32_t i = 0; i < 16; ++i) {
        p.push_back(stmt(BPF_LDX | BPF_MEM, i));
        p.push_back(stmt(BPF_ALU | BPF_OR | BPF_X, 0));
    }
    p.push_back(stmt(BPF_RET | BPF_A, 0));
    expect_result(program(p), counting_frame(60), 0xffff);
    // Never written: reads 0, as in libpcap after 1.10 (1.10's interpreter
    // leaves M[] uninitialised: no oracle).
    EXPECT_EQ(xdp_result(program({stmt(BPF_LD | BPF_MEM, 5), stmt(BPF_ALU | BPF_ADD | BPF_K, 3),
                                  stmt(BPF_RET | BPF_A, 0)}),
                         counting_frame(60)),
              3u);
}

TEST(FilterTranslate, DivisionOrModuloByZeroReturnsZero) {
    SKIP_WITHOUT_BPF();
    auto pkt = counting_frame(60);
    auto by_x = [](uint16_t op, uint32_t a, uint32_t x) {
        return program({stmt(BPF_LD | BPF_IMM, a), stmt(BPF_LDX | BPF_IMM, x), stmt(BPF_ALU | op | BPF_X, 0),
                        stmt(BPF_ALU | BPF_ADD | BPF_K, 1), stmt(BPF_RET | BPF_A, 0)});
    };
    expect_result(by_x(BPF_DIV, 100, 7), pkt, 15);
    expect_result(by_x(BPF_MOD, 100, 7), pkt, 3);
    expect_result(by_x(BPF_DIV, 0xffffffff, 2), pkt, 0x80000000);  // unsigned
    // eBPF alone would give 0 + 1 (div) and 100 + 1 (mod).
    expect_result(by_x(BPF_DIV, 100, 0), pkt, 0);
    expect_result(by_x(BPF_MOD, 100, 0), pkt, 0);
    // k = 0 is decided when translating (libpcap's compiler refuses it; a
    // hand-written program can still carry it).
    // libpcap 1.10's interpreter trusts its validator here and traps
    // (SIGFPE): no oracle for these two.
    for (uint16_t op : {BPF_DIV, BPF_MOD}) {
        EXPECT_EQ(xdp_result(program({stmt(BPF_LD | BPF_IMM, 100), stmt(BPF_ALU | op | BPF_K, 0),
                                      stmt(BPF_RET | BPF_K, 1)}),
                             pkt),
                  0u);
    }
    expect_result(program({stmt(BPF_LD | BPF_IMM, 100), stmt(BPF_ALU | BPF_MOD | BPF_K, 30), stmt(BPF_RET | BPF_A, 0)}),
                  pkt, 10);
}

TEST(FilterTranslate, ArithmeticIsThirtyTwoBitUnsigned) {
    SKIP_WITHOUT_BPF();
    auto pkt = counting_frame(60);
    auto alu_k = [](uint32_t a, uint16_t op, uint32_t k) {
        return program({stmt(BPF_LD | BPF_IMM, a), stmt(BPF_ALU | op | BPF_K, k), stmt(BPF_RET | BPF_A, 0)});
    };
    auto alu_x = [](uint32_t a, uint16_t op, uint32_t x) {
        return program({stmt(BPF_LD | BPF_IMM, a), stmt(BPF_LDX | BPF_IMM, x), stmt(BPF_ALU | op | BPF_X, 0),
                        stmt(BPF_RET | BPF_A, 0)});
    };
    expect_result(alu_k(0xfffffff0, BPF_ADD, 0x20), pkt, 0x10);
    expect_result(alu_k(5, BPF_SUB, 7), pkt, 0xfffffffe);
    expect_result(alu_k(0x10000, BPF_MUL, 0x10001), pkt, 0x10000);
    expect_result(alu_k(0xf0f0, BPF_AND, 0xff00), pkt, 0xf000);
    expect_result(alu_k(0xf0f0, BPF_OR, 0x0f00), pkt, 0xfff0);
    expect_result(alu_k(0xf0f0, BPF_XOR, 0xffff), pkt, 0x0f0f);
    expect_result(alu_k(0x80000001, BPF_LSH, 1), pkt, 2);
    expect_result(alu_k(0x80000000, BPF_RSH, 31), pkt, 1);  // logical, not arithmetic
    // A constant shift of 32 or more gives 0 as libpcap's compiler and
    // newer interpreters have it (1.10's interpreter shifts modulo 32).
    EXPECT_EQ(xdp_result(alu_k(1, BPF_LSH, 32), pkt), 0u);
    EXPECT_EQ(xdp_result(alu_k(0x80000000, BPF_RSH, 40), pkt), 0u);
    expect_result(alu_x(0xfffffff0, BPF_ADD, 0x20), pkt, 0x10);
    expect_result(alu_x(5, BPF_SUB, 7), pkt, 0xfffffffe);
    expect_result(alu_x(7, BPF_MUL, 6), pkt, 42);
    expect_result(alu_x(0xf0f0, BPF_AND, 0xff00), pkt, 0xf000);
    expect_result(alu_x(0xf0f0, BPF_OR, 0x0f00), pkt, 0xfff0);
    expect_result(alu_x(0xf0f0, BPF_XOR, 0xffff), pkt, 0x0f0f);
    // eBPF masks a shift to 5 bits (1 << 33 would be 2); libpcap gives 0.
    expect_result(alu_x(1, BPF_LSH, 31), pkt, 0x80000000);
    expect_result(alu_x(1, BPF_LSH, 32), pkt, 0);
    expect_result(alu_x(1, BPF_LSH, 33), pkt, 0);
    expect_result(alu_x(0x80000000, BPF_RSH, 31), pkt, 1);
    expect_result(alu_x(0x80000000, BPF_RSH, 32), pkt, 0);
    expect_result(alu_x(0x80000000, BPF_RSH, 0xffffffff), pkt, 0);
    expect_result(program({stmt(BPF_LD | BPF_IMM, 5), stmt(BPF_ALU | BPF_NEG, 0), stmt(BPF_RET | BPF_A, 0)}), pkt,
                  0xfffffffb);
    expect_result(program({stmt(BPF_LD | BPF_IMM, 0x80000000), stmt(BPF_ALU | BPF_NEG, 0), stmt(BPF_RET | BPF_A, 0)}),
                  pkt, 0x80000000);
    expect_result(program({stmt(BPF_LD | BPF_IMM, 9), stmt(BPF_MISC | BPF_TAX, 0), stmt(BPF_LD | BPF_IMM, 1),
                           stmt(BPF_MISC | BPF_TXA, 0), stmt(BPF_RET | BPF_A, 0)}),
                  pkt, 9);
}

TEST(FilterTranslate, JumpsCompareThirtyTwoBitsUnsigned) {
    SKIP_WITHOUT_BPF();
    auto pkt = counting_frame(60);
    // A op k ? 1 : 2, and the same against X.
    auto jk = [](uint32_t a, uint16_t op, uint32_t k) {
        return program({stmt(BPF_LD | BPF_IMM, a), jump(BPF_JMP | op | BPF_K, k, 0, 1), stmt(BPF_RET | BPF_K, 1),
                        stmt(BPF_RET | BPF_K, 2)});
    };
    auto jx = [](uint32_t a, uint16_t op, uint32_t x) {
        return program({stmt(BPF_LDX | BPF_IMM, x), stmt(BPF_LD | BPF_IMM, a), jump(BPF_JMP | op | BPF_X, 0, 0, 1),
                        stmt(BPF_RET | BPF_K, 1), stmt(BPF_RET | BPF_K, 2)});
    };
    for (auto make : {+jk, +jx}) {
        // Immediates with the top bit set: eBPF's 64-bit compare would
        // sign-extend them.
        expect_result(make(0x80000001, BPF_JGT, 0x80000000), pkt, 1);
        expect_result(make(0x80000000, BPF_JGT, 0x80000000), pkt, 2);
        expect_result(make(0x7fffffff, BPF_JGT, 0x80000000), pkt, 2);
        expect_result(make(0x80000000, BPF_JGE, 0x80000000), pkt, 1);
        expect_result(make(0x7fffffff, BPF_JGE, 0x80000000), pkt, 2);
        expect_result(make(0xffffffff, BPF_JEQ, 0xffffffff), pkt, 1);
        expect_result(make(0xfffffffe, BPF_JEQ, 0xffffffff), pkt, 2);
        expect_result(make(0x80000010, BPF_JSET, 0x80000000), pkt, 1);
        expect_result(make(0x00000010, BPF_JSET, 0x80000000), pkt, 2);
        expect_result(make(0x00000010, BPF_JSET, 0x30), pkt, 1);
        expect_result(make(1, BPF_JGT, 0), pkt, 1);
        expect_result(make(0, BPF_JGE, 0), pkt, 1);
    }
    // jset with the true branch falling through and the false branch jumping.
    auto jset_next = [](uint32_t a) {
        return program({stmt(BPF_LD | BPF_IMM, a), jump(BPF_JMP | BPF_JSET | BPF_K, 4, 0, 2),
                        stmt(BPF_LD | BPF_IMM, 5), stmt(BPF_RET | BPF_A, 0), stmt(BPF_RET | BPF_K, 6)});
    };
    expect_result(jset_next(4), pkt, 5);
    expect_result(jset_next(3), pkt, 6);
    expect_result(program({stmt(BPF_JMP | BPF_JA, 1), stmt(BPF_RET | BPF_K, 1), stmt(BPF_RET | BPF_K, 2)}), pkt, 2);
}

TEST(FilterTranslate, ReturnsKOrAAndCapsBelowTheSnaplen) {
    SKIP_WITHOUT_BPF();
    auto pkt = counting_frame(100);
    expect_result(program({stmt(BPF_LD | BPF_IMM, 0), stmt(BPF_RET | BPF_A, 0)}), pkt, 0);
    expect_result(program({stmt(BPF_LD | BPF_IMM, 0xdeadbeef), stmt(BPF_RET | BPF_A, 0)}), pkt, 0xdeadbeef);
    expect_result(program({stmt(BPF_RET | BPF_K, 0)}), pkt, 0);
    // With a real snaplen the metadata's cap is k only when k cuts. Where the
    // kernel refuses the metadata area a match goes on without any.
    compiled_filter short_ret{"(hand-written)", {stmt(BPF_RET | BPF_K, 40)}, 96};
    xdp_filter_program cuts(short_ret, {.exit = filter_exit::verdict});
    auto r = run_xdp(cuts.fd(), pkt);
    EXPECT_EQ(r.retval, uint32_t(XDP_PASS));
    auto all = compile_filter("", 96);  // ret #96: matches, cuts nothing -s does not
    EXPECT_EQ(run_classic(all, pkt), 96u);
    xdp_filter_program prog(all, {.exit = filter_exit::verdict});
    if (!xdp_metadata_allowed()) {
        EXPECT_FALSE(r.has_meta);
        r = run_xdp(prog.fd(), pkt);
        EXPECT_EQ(r.retval, uint32_t(XDP_PASS));
        EXPECT_FALSE(r.has_meta);
        GTEST_SKIP() << "the kernel refuses XDP programs bpf_xdp_adjust_meta: no cap to check";
    }
    ASSERT_TRUE(r.has_meta);
    EXPECT_EQ(r.meta.cap, 40u);
    r = run_xdp(prog.fd(), pkt);
    EXPECT_EQ(r.retval, uint32_t(XDP_PASS));
    ASSERT_TRUE(r.has_meta);
    EXPECT_EQ(r.meta.magic, XCAP_META_MAGIC);
    EXPECT_EQ(r.meta.cap, 0u);
    EXPECT_EQ(r.meta.rx_ts_ns, 0u);
    EXPECT_EQ(r.meta.rx_queue, 0u);
    EXPECT_EQ(r.meta.reserved, 0u);
}

TEST(FilterTranslate, LenIsTheFrameLength) {
    SKIP_WITHOUT_BPF();
    for (size_t len : {14, 60, 1514, 3000}) {
        auto pkt = counting_frame(len);
        expect_result(program({stmt(BPF_LD | BPF_W | BPF_LEN, 0), stmt(BPF_RET | BPF_A, 0)}), pkt, uint32_t(len));
        expect_result(program({stmt(BPF_LDX | BPF_W | BPF_LEN, 0), stmt(BPF_MISC | BPF_TXA, 0),
                               stmt(BPF_RET | BPF_A, 0)}),
                      pkt, uint32_t(len));
    }
    auto greater = compile_filter("greater 100", 262144);
    expect_result(greater, counting_frame(100), 262144);
    expect_result(greater, counting_frame(99), 0);
}

// libpcap 1.10's interpreter calls abort() on such programs (its validator
// keeps them out); newer ones return 0, as the translation does.
TEST(FilterTranslate, LeavingTheProgramReturnsZeroAndDeadCodeIsDropped) {
    SKIP_WITHOUT_BPF();
    auto pkt = counting_frame(60);
    EXPECT_EQ(xdp_result(program({stmt(BPF_LD | BPF_IMM, 1)}), pkt), 0u);  // runs off the end
    EXPECT_EQ(xdp_result(program({stmt(BPF_JMP | BPF_JA, 5), stmt(BPF_RET | BPF_K, 1)}), pkt), 0u);
    EXPECT_EQ(xdp_result(program({stmt(BPF_LD | BPF_IMM, 1), jump(BPF_JMP | BPF_JEQ | BPF_K, 1, 9, 0),
                                  stmt(BPF_RET | BPF_K, 1)}),
                         pkt),
              0u);
    EXPECT_EQ(xdp_result(program({stmt(BPF_LD | BPF_IMM, 1), jump(BPF_JMP | BPF_JEQ | BPF_K, 1, 0, 0)}), pkt), 0u);
    // Instructions nothing reaches (the verifier refuses them if emitted).
    expect_result(program({stmt(BPF_RET | BPF_K, 3), stmt(BPF_LD | BPF_IMM, 1), stmt(BPF_RET | BPF_K, 4)}), pkt, 3);
    expect_result(program({stmt(BPF_LD | BPF_B | BPF_ABS, 0x1000000), stmt(BPF_RET | BPF_K, 4)}), pkt, 0);
}

TEST(FilterTranslate, BackwardJumpsLoopAtMostSixtyFourTimes) {
    SKIP_WITHOUT_BPF();
    auto pkt = counting_frame(60);
    // A += 1 until A > limit, then return A.
    auto loop = [](uint32_t limit) {
        return program({stmt(BPF_ALU | BPF_ADD | BPF_K, 1), jump(BPF_JMP | BPF_JGT | BPF_K, limit, 1, 0),
                        stmt(BPF_JMP | BPF_JA, uint32_t(-3)), stmt(BPF_RET | BPF_A, 0)});
    };
    expect_result(loop(10), pkt, 11);
    expect_result(loop(64), pkt, 65);  // 64 backward jumps
    // The 65th backward jump returns 0, as in libpcap after 1.10 (1.10's own
    // interpreter has no limit and would return 101).
    EXPECT_EQ(xdp_result(loop(100), pkt), 0u);
    // A jump to itself is an endless loop: 0 (libpcap 1.10's interpreter
    // spins forever on it).
    EXPECT_EQ(xdp_result(program({stmt(BPF_LD | BPF_IMM, 1), stmt(BPF_JMP | BPF_JA, uint32_t(-1))}), pkt), 0u);
    // libpcap's protochain loops over IPv6 extension headers. Each loop
    // costs the verifier dearly (a fifth of a second here); six still load.
    std::string six = "ip6 protochain 17";
    for (int proto : {6, 58, 1, 2, 47}) {
        six += " or ip6 protochain " + std::to_string(proto);
    }
    auto chain = compile_filter(six, 262144);
    xdp_filter_program prog(chain, {.exit = filter_exit::verdict});
    EXPECT_TRUE(prog.indirect_loads_by_helper());
    // Extension headers in front of UDP: hop-by-hop (0), routing (43) and
    // destination options (60), each 8 bytes, then the UDP header.
    auto udp6 = build_frame(3);
    ASSERT_EQ(kind_of(3), frame_kind::udp6);
    std::vector<uint8_t> chained(udp6.begin(), udp6.begin() + 54);
    const uint8_t nexts[] = {43, 60, 17};
    chained[20] = 0;  // ip6 next header: hop-by-hop
    for (uint8_t next : nexts) {
        chained.insert(chained.end(), {next, 0, 0, 0, 0, 0, 0, 0});
    }
    chained.insert(chained.end(), udp6.begin() + 54, udp6.end());
    auto many = chained;
    many[20] = 60;  // 40 destination-options headers, then UDP
    many.resize(54);
    for (int i = 0; i < 40; ++i) {
        many.insert(many.end(), {uint8_t(i == 39 ? 17 : 60), 0, 0, 0, 0, 0, 0, 0});
    }
    many.insert(many.end(), udp6.begin() + 54, udp6.end());
    for (const auto* f : {&udp6, &chained, &many}) {
        EXPECT_EQ(run_classic(chain, *f), 262144u);
        EXPECT_EQ(run_xdp(prog.fd(), *f).retval, uint32_t(XDP_PASS));
    }
    for (uint32_t seq : {0, 1, 2, 4, 5}) {
        auto f = build_frame(seq);
        EXPECT_EQ(run_classic(chain, f), 0u);
        EXPECT_EQ(run_xdp(prog.fd(), f).retval, uint32_t(XDP_DROP));
    }
}

TEST(FilterTranslate, AncillaryLoadsHaveTheirXdpMeaning) {
    SKIP_WITHOUT_BPF();
    auto anc = [](uint32_t n) {
        return program({stmt(BPF_LD | BPF_W | BPF_ABS, uint32_t(SKF_AD_OFF) + n), stmt(BPF_RET | BPF_A, 0)});
    };
    auto ip4 = build_frame(0);
    ASSERT_EQ(kind_of(0), frame_kind::udp4);
    auto ip6 = build_frame(3);
    auto vlan = build_frame(5);
    auto llc = counting_frame(60);
    llc[12] = 0x00;
    llc[13] = 0x2e;  // an 802.3 length
    auto raw8023 = llc;
    raw8023[14] = raw8023[15] = 0xff;
    EXPECT_EQ(xdp_result(anc(SKF_AD_PROTOCOL), ip4), 0x0800u);
    EXPECT_EQ(xdp_result(anc(SKF_AD_PROTOCOL), ip6), 0x86ddu);
    EXPECT_EQ(xdp_result(anc(SKF_AD_PROTOCOL), vlan), 0x8100u);
    EXPECT_EQ(xdp_result(anc(SKF_AD_PROTOCOL), llc), 0x0004u);     // ETH_P_802_2
    EXPECT_EQ(xdp_result(anc(SKF_AD_PROTOCOL), raw8023), 0x0001u); // ETH_P_802_3

    auto unicast = counting_frame(60);
    auto multicast = unicast;
    multicast[0] = 0x01;
    auto broadcast = unicast;
    std::memset(broadcast.data(), 0xff, 6);
    auto almost = broadcast;
    almost[5] = 0xfe;
    // PACKET_HOST 0, PACKET_BROADCAST 1, PACKET_MULTICAST 2. The result 0
    // reads as "no match": compare pkttype + 1.
    auto pkttype = program({stmt(BPF_LD | BPF_H | BPF_ABS, uint32_t(SKF_AD_OFF + SKF_AD_PKTTYPE)),
                            stmt(BPF_ALU | BPF_ADD | BPF_K, 1), stmt(BPF_RET | BPF_A, 0)});
    EXPECT_EQ(xdp_result(pkttype, unicast), 1u);
    EXPECT_EQ(xdp_result(pkttype, broadcast), 2u);
    EXPECT_EQ(xdp_result(pkttype, multicast), 3u);
    EXPECT_EQ(xdp_result(pkttype, almost), 3u);
    // So `inbound` matches every received frame and `outbound` none.
    auto inbound = compile_filter("inbound", 262144);
    auto outbound = compile_filter("outbound", 262144);
    for (const auto* f : {&unicast, &broadcast, &multicast, &ip4}) {
        EXPECT_EQ(xdp_result(inbound, *f), 262144u);
        EXPECT_EQ(xdp_result(outbound, *f), 0u);
    }

    auto ifindex = compile_filter("ifindex 1", 262144);  // BPF_PROG_RUN's frames arrive on lo
    xdp_filter_program prog(ifindex, {.exit = filter_exit::verdict});
    EXPECT_EQ(run_xdp(prog.fd(), ip4, {.ingress_ifindex = 1}).retval, uint32_t(XDP_PASS));
    EXPECT_EQ(xdp_result(compile_filter("ifindex 2", 262144), ip4), 0u);
    EXPECT_EQ(xdp_result(anc(SKF_AD_IFINDEX), ip4), 1u);

    auto queue_plus_one = program({stmt(BPF_LD | BPF_W | BPF_ABS, uint32_t(SKF_AD_OFF + SKF_AD_QUEUE)),
                                   stmt(BPF_ALU | BPF_ADD | BPF_K, 1), stmt(BPF_RET | BPF_A, 0)});
    EXPECT_EQ(xdp_result(queue_plus_one, ip4), 1u);
    auto cpu_plus_one = program({stmt(BPF_LD | BPF_W | BPF_ABS, uint32_t(SKF_AD_OFF + SKF_AD_CPU)),
                                 stmt(BPF_ALU | BPF_ADD | BPF_K, 1), stmt(BPF_RET | BPF_A, 0)});
    uint32_t cpu = xdp_result(cpu_plus_one, ip4);
    EXPECT_GE(cpu, 1u);
    EXPECT_LE(cpu, uint32_t(sysconf(_SC_NPROCESSORS_CONF)));
    // Random: two 32-bit draws agree once in 2^32; over 4 runs, never here.
    auto rnd = anc(SKF_AD_RANDOM);
    uint32_t first = xdp_result(rnd, ip4);
    bool differs = false;
    for (int i = 0; i < 4 && !differs; ++i) {
        differs = xdp_result(rnd, ip4) != first;
    }
    EXPECT_TRUE(differs);
    EXPECT_EQ(xdp_result(program({stmt(BPF_LD | BPF_IMM, 0xf0), stmt(BPF_LDX | BPF_IMM, 0x0f),
                                  stmt(BPF_LD | BPF_B | BPF_ABS, uint32_t(SKF_AD_OFF + SKF_AD_ALU_XOR_X)),
                                  stmt(BPF_RET | BPF_A, 0)}),
                         ip4),
              0xffu);
    // SKF_LL_OFF: offsets from the link-layer header, where XDP frames start.
    EXPECT_EQ(xdp_result(program({stmt(BPF_LD | BPF_H | BPF_ABS, uint32_t(SKF_LL_OFF + 12)), stmt(BPF_RET | BPF_A, 0)}),
                         ip4),
              0x0800u);
    // An 802.3 frame too short to show its payload's first bytes: 802.2,
    // as eth_type_trans decides.
    auto bare = counting_frame(14);
    bare[12] = 0;
    bare[13] = 0x40;
    EXPECT_EQ(xdp_result(anc(SKF_AD_PROTOCOL), bare), 0x0004u);
}

TEST(FilterProgram, EntryTailCallsSlotZeroAfterWritingTheMetadata) {
    SKIP_WITHOUT_BPF();
    std::vector<bpf_insn> tx = {ebpf::mov64_imm(0, XDP_TX), ebpf::exit_insn()};
    auto next = load_xdp_program(tx, false, "a stub", false);
    compiled_filter f = compile_filter("udp", 262144);
    f.classic = {stmt(BPF_LD | BPF_H | BPF_ABS, 12), jump(BPF_JMP | BPF_JEQ | BPF_K, 0x0800, 0, 1),
                 stmt(BPF_RET | BPF_K, 128), stmt(BPF_RET | BPF_K, 0)};
    xdp_filter_program entry(f);
    auto ip4 = build_frame(0);
    auto ip6 = build_frame(3);

    // Slot 0 empty: a match goes on with XDP_PASS, metadata written (none
    // where the kernel refuses the metadata area).
    const bool meta = xdp_metadata_allowed();
    auto r = run_xdp(entry.fd(), ip4);
    EXPECT_EQ(r.retval, uint32_t(XDP_PASS));
    ASSERT_EQ(r.has_meta, meta);
    if (meta) {
        EXPECT_EQ(r.meta.magic, XCAP_META_MAGIC);
        EXPECT_EQ(r.meta.cap, 128u);
    }

    entry.set_next(next.get());
    r = run_xdp(entry.fd(), ip4);
    EXPECT_EQ(r.retval, uint32_t(XDP_TX)) << "the tail call ran the stub";
    ASSERT_EQ(r.has_meta, meta);
    if (meta) {
        EXPECT_EQ(r.meta.cap, 128u);
    }

    r = run_xdp(entry.fd(), ip6);
    EXPECT_EQ(r.retval, uint32_t(XDP_PASS)) << "no match: on to the stack";
    EXPECT_FALSE(r.has_meta);
    run_xdp(entry.fd(), ip6, {.repeat = 9});
    auto c = entry.counters();
    EXPECT_EQ(c.rejected, 10u);
    EXPECT_EQ(c.no_metadata, 0u);

    entry.clear_next();
    EXPECT_EQ(run_xdp(entry.fd(), ip4).retval, uint32_t(XDP_PASS));
    entry.clear_next();  // idempotent

    // A tail call only reaches a program with the same frags setting.
    auto frags_stub = load_xdp_program(tx, true, "a frags stub", false);
    EXPECT_THROW(entry.set_next(frags_stub.get()), failure);
    xdp_filter_program frags_entry(f, {.frags = true});
    frags_entry.set_next(frags_stub.get());
    EXPECT_EQ(run_xdp(frags_entry.fd(), ip4).retval, uint32_t(XDP_TX));
}

// The program built for a kernel that refuses bpf_xdp_adjust_meta: no
// helper call in it, so it loads anywhere; a match goes on (or to slot 0)
// with the frame untouched and no metadata, a miss is counted.
TEST(FilterProgram, WithoutMetadataAMatchGoesOnUntouched) {
    SKIP_WITHOUT_BPF();
    unique_fd counters(bpf_map_create(BPF_MAP_TYPE_PERCPU_ARRAY, "xcap_t_ctr", 4, sizeof(filter_counters), 1, nullptr));
    unique_fd slots(bpf_map_create(BPF_MAP_TYPE_PROG_ARRAY, "xcap_t_next", 4, 4, 1, nullptr));
    ASSERT_TRUE(counters && slots);
    compiled_filter f = compile_filter("udp", 262144);
    xdp_program_spec spec{.exit = filter_exit::tail_call,
                          .metadata = false,
                          .counters_map_fd = counters.get(),
                          .prog_array_fd = slots.get()};
    const auto insns = build_xdp_program(f, spec);
    for (const auto& i : insns) {
        ASSERT_FALSE(i.code == (BPF_JMP | BPF_CALL) && i.imm == BPF_FUNC_xdp_adjust_meta);
    }
    auto entry = load_xdp_program(insns, false, "the filter without metadata", true);
    auto udp = build_frame(0);
    auto tcp = build_frame(1);
    auto r = run_xdp(entry.get(), udp);
    EXPECT_EQ(r.retval, uint32_t(XDP_PASS));
    EXPECT_FALSE(r.has_meta);
    std::vector<bpf_insn> tx = {ebpf::mov64_imm(0, XDP_TX), ebpf::exit_insn()};
    auto next = load_xdp_program(tx, false, "a stub", false);
    const uint32_t key = 0, fd = uint32_t(next.get());
    ASSERT_EQ(bpf_map_update_elem(slots.get(), &key, &fd, BPF_ANY), 0);
    r = run_xdp(entry.get(), udp);
    EXPECT_EQ(r.retval, uint32_t(XDP_TX)) << "a match tail-calls slot 0";
    EXPECT_FALSE(r.has_meta);
    r = run_xdp(entry.get(), tcp);
    EXPECT_EQ(r.retval, uint32_t(XDP_PASS)) << "a miss goes on to the stack";
    std::vector<filter_counters> per_cpu(static_cast<size_t>(libbpf_num_possible_cpus()));
    ASSERT_EQ(bpf_map_lookup_elem(counters.get(), &key, per_cpu.data()), 0);
    uint64_t rejected = 0, no_metadata = 0;
    for (const auto& c : per_cpu) {
        rejected += c.rejected;
        no_metadata += c.no_metadata;
    }
    EXPECT_EQ(rejected, 1u);
    EXPECT_EQ(no_metadata, 0u) << "nothing asked for, nothing refused";
}

// The probe behind xdp_metadata_allowed and xdp_buff_len_allowed: a load
// of a program calling the helper, EINVAL meaning no. libbpf's probe says
// yes to a helper this kernel refuses to XDP, so the refusals are checked
// here, not only the helpers that load.
TEST(HelperProbe, TellsHelpersXdpMayCallFromOnesItMayNot) {
    SKIP_WITHOUT_BPF();
    EXPECT_TRUE(xdp_helper_allowed(BPF_FUNC_xdp_adjust_head));  // every kernel with XDP has it
    EXPECT_FALSE(xdp_helper_allowed(BPF_FUNC_override_return));  // kprobe programs only
    EXPECT_FALSE(xdp_helper_allowed(__BPF_FUNC_MAX_ID + 100));  // no kernel has it
    utsname u{};
    int major = 0, minor = 0;
    ASSERT_EQ(uname(&u), 0);
    ASSERT_EQ(std::sscanf(u.release, "%d.%d", &major, &minor), 2);
    if (major > 5 || (major == 5 && minor >= 18)) {
        EXPECT_TRUE(xdp_buff_len_allowed()) << "bpf_xdp_get_buff_len is in Linux 5.18";
    }
}

TEST(FilterProgram, EntryChainsIntoTheCaptureProgram) {
    SKIP_WITHOUT_BPF();
    auto* skel = xcap_rx_bpf__open();
    ASSERT_NE(skel, nullptr);
    skel->rodata->xcap_meta_in_frame = !xdp_metadata_allowed();  // as rx_program loads it
    ASSERT_EQ(xcap_rx_bpf__load(skel), 0);
    auto rx_counters = [&] {
        int cpus = libbpf_num_possible_cpus();
        std::vector<xcap_rx_counters> per_cpu(static_cast<size_t>(cpus));
        uint32_t key = 0;
        EXPECT_EQ(bpf_map_lookup_elem(bpf_map__fd(skel->maps.xcap_counters), &key, per_cpu.data()), 0);
        xcap_rx_counters sum{};
        for (const auto& c : per_cpu) {
            sum.seen += c.seen;
            sum.passed_no_socket += c.passed_no_socket;
        }
        return sum;
    };
    // xcap_rx is SEC("xdp.frags"): the entry must be loaded with frags too.
    xdp_filter_program entry(compile_filter("tcp port 80", 262144), {.frags = true});
    entry.set_next(bpf_program__fd(skel->progs.xcap_rx));
    auto tcp = build_frame(1);  // to port 80
    auto udp = build_frame(0);
    ASSERT_EQ(kind_of(1), frame_kind::tcp4);
    ASSERT_EQ(kind_of(0), frame_kind::udp4);
    run_xdp(entry.fd(), tcp, {.repeat = 5});
    run_xdp(entry.fd(), udp, {.repeat = 3});
    auto c = rx_counters();
    EXPECT_EQ(c.seen, 5u) << "xcap_rx ran for the matches only";
    EXPECT_EQ(c.passed_no_socket, 5u) << "no socket bound: xcap_rx passes them";
    EXPECT_EQ(entry.counters().rejected, 3u);
    // Without multi-buffer xcap loads xcap_rx_1buf, the same program without
    // frags: a filter without frags chains to it and not to xcap_rx.
    xdp_filter_program plain(compile_filter("tcp port 80", 262144));
    EXPECT_THROW(plain.set_next(bpf_program__fd(skel->progs.xcap_rx)), failure);
    plain.set_next(bpf_program__fd(skel->progs.xcap_rx_1buf));
    run_xdp(plain.fd(), tcp, {.repeat = 2});
    EXPECT_EQ(rx_counters().seen, 7u) << "xcap_rx_1buf counts in the same maps";
    xcap_rx_bpf__destroy(skel);
}

TEST(FilterProgram, FragsReadPastTheFirstBuffer) {
    SKIP_WITHOUT_BPF();
    auto jumbo = counting_frame(9000);  // BPF_PROG_RUN puts what passes a page into fragments
    xdp_filter_options frags{.frags = true};
    auto len = program({stmt(BPF_LD | BPF_W | BPF_LEN, 0), stmt(BPF_RET | BPF_A, 0)});
    EXPECT_EQ(xdp_result(len, jumbo, frags), 9000u);
    auto at = [](uint16_t size, uint32_t k) {
        return program({stmt(BPF_LD | size | BPF_ABS, k), stmt(BPF_RET | BPF_A, 0)});
    };
    EXPECT_EQ(xdp_result(at(BPF_B, 8000), jumbo, frags), uint32_t(8000 % 256));
    EXPECT_EQ(xdp_result(at(BPF_W, 8996), jumbo, frags), 0x24252627u);  // 8996 = 0x2324
    EXPECT_EQ(xdp_result(at(BPF_W, 8997), jumbo, frags), 0u);
    EXPECT_EQ(xdp_result(at(BPF_H, 12), jumbo, frags), 0x0c0du);
    // Across the end of the first buffer, wherever it is.
    for (uint32_t k = 3400; k < 3700; k += 3) {
        uint32_t expect = uint32_t(uint8_t(k)) << 24 | uint32_t(uint8_t(k + 1)) << 16 | uint32_t(uint8_t(k + 2)) << 8 |
                          uint8_t(k + 3);
        ASSERT_EQ(xdp_result(at(BPF_W, k), jumbo, frags), expect) << k;
    }
    auto ind = program({stmt(BPF_LDX | BPF_IMM, 7000), stmt(BPF_LD | BPF_H | BPF_IND, 1000), stmt(BPF_RET | BPF_A, 0)});
    EXPECT_EQ(xdp_result(ind, jumbo, frags), 0x4041u);  // 8000 % 256 = 0x40
    auto msh = program({stmt(BPF_LDX | BPF_MSH | BPF_B, 5003), stmt(BPF_MISC | BPF_TXA, 0), stmt(BPF_RET | BPF_A, 0)});
    EXPECT_EQ(xdp_result(msh, jumbo, frags), uint32_t((5003 % 256) & 0xf) * 4);
}

TEST(FilterProgram, VerifierLogOnlyWhenVerbose) {
    SKIP_WITHOUT_BPF();
    // Reads r9 before anything wrote it.
    std::vector<bpf_insn> bad = {ebpf::mov64_reg(0, 9), ebpf::exit_insn()};
    try {
        load_xdp_program(bad, false, "a broken program", true);
        ADD_FAILURE() << "loaded";
    } catch (const filter_load_error& e) {
        EXPECT_EQ(e.kind(), failure_kind::unsupported);
        EXPECT_NE(e.verifier_log().find("R9 !read_ok"), std::string::npos) << e.verifier_log();
        EXPECT_NE(e.hint().find(e.verifier_log()), std::string::npos);
        EXPECT_NE(std::string(e.what()).find("a broken program"), std::string::npos);
    }
    try {
        load_xdp_program(bad, false, "a broken program", false);
        ADD_FAILURE() << "loaded";
    } catch (const filter_load_error& e) {
        EXPECT_TRUE(e.verifier_log().empty());
        EXPECT_NE(e.hint().find("-v"), std::string::npos) << e.hint();
    }
}

// xcap asks for CAP_BPF, not CAP_PERFMON: the filter must load with CAP_BPF
// and CAP_NET_ADMIN alone. Checked in a child that drops everything else.
TEST(FilterProgram, LoadsWithCapBpfAlone) {
    SKIP_WITHOUT_BPF();
    if (geteuid() != 0) {
        GTEST_SKIP() << "needs root to drop to exactly CAP_BPF+CAP_NET_ADMIN";
    }
    auto tcp80 = compile_filter("tcp port 80", 262144);
    std::vector<uint8_t> tcp = build_frame(1), udp = build_frame(0);
    ASSERT_EQ(kind_of(1), frame_kind::tcp4);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
        __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3]{};
        uint64_t keep = (1ull << CAP_BPF) | (1ull << CAP_NET_ADMIN);
        data[0].effective = data[0].permitted = uint32_t(keep);
        data[1].effective = data[1].permitted = uint32_t(keep >> 32);
        if (syscall(SYS_capset, &header, data) != 0) {
            _exit(10);
        }
        try {
            xdp_filter_program p(tcp80, {.exit = filter_exit::verdict});
            if (!p.indirect_loads_by_helper()) {
                _exit(11);  // the verifier allowed variable offsets: nothing was tested
            }
            if (run_xdp(p.fd(), tcp).retval != XDP_PASS || run_xdp(p.fd(), udp).retval != XDP_DROP) {
                _exit(12);
            }
            // Stays exact at the edges: the same answers as libpcap's interpreter.
            for (uint32_t seq = 0; seq < 120; ++seq) {
                auto f = build_frame(seq);
                bool match = run_xdp(p.fd(), f).retval == XDP_PASS;
                if (match != (run_classic(tcp80, f) != 0)) {
                    _exit(13);
                }
            }
        } catch (const std::exception& e) {
            std::fprintf(stderr, "%s\n", e.what());
            _exit(14);
        }
        _exit(0);
    }
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0) << "10 capset, 11 no fallback needed, 12 wrong verdict, 13 differs from "
                                         "libpcap, 14 load failed";
}
