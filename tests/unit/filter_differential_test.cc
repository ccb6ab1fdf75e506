// The translation against libpcap's own interpreter: a corpus of tcpdump
// expressions over real captures and generated traffic, packet for packet,
// the verdict and the result k both.
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <linux/filter.h>

#include <chrono>
#include <cstdio>
#include <optional>
#include <random>

#include "filter/filter.h"
#include "filter_support.h"
#include "frames.h"
#include "tools.h"

using namespace xcap;
using namespace xcap::test;

namespace {

struct tally {
    uint64_t matches = 0, non_matches = 0, too_short = 0, too_long = 0, multi_buffer = 0, differences = 0;
};

// The most a BPF_PROG_RUN frame holds in one buffer: a page less XDP's
// headroom and the skb_shared_info tail. Longer frames go to a frags program.
constexpr size_t max_linear = 4096 - 256 - 320;

void compare(const char* expr, const std::vector<std::vector<uint8_t>>& packets, tally& t,
             const std::string& source) {
    SCOPED_TRACE(expr);
    compiled_filter f = compile_filter(expr, 262144);
    k_program linear(f);
    std::optional<k_program> frags;
    for (size_t i = 0; i < packets.size(); ++i) {
        const auto& p = packets[i];
        if (p.size() < 14) {
            ++t.too_short;  // no XDP program ever sees one (BPF_PROG_RUN refuses it)
            continue;
        }
        if (p.size() > 0xffff) {
            ++t.too_long;  // nor one this long (the translation's loads stop at 65535)
            continue;
        }
        const k_program* prog = &linear;
        if (p.size() > max_linear) {
            if (!frags) {
                frags.emplace(f, true);
            }
            prog = &*frags;
            ++t.multi_buffer;
        }
        uint32_t want = run_classic(f, p);
        auto r = prog->run(p);
        uint32_t got = r.k;
        bool verdict_ok = (r.retval == XDP_PASS) == (want != 0) && (r.retval == XDP_PASS || r.retval == XDP_DROP);
        if (!verdict_ok || got != want) {
            if (++t.differences <= 20) {
                ADD_FAILURE() << source << " packet " << i << " (" << p.size() << " bytes): libpcap " << want
                              << ", XDP retval " << r.retval << " k " << got;
            }
        }
        (want != 0 ? t.matches : t.non_matches)++;
    }
}

void run_corpus(const std::vector<std::vector<uint8_t>>& packets, const std::string& source) {
    auto start = std::chrono::steady_clock::now();
    tally t;
    size_t expressions = 0;
    for (const char* expr : filter_corpus()) {
        compare(expr, packets, t, source);
        ++expressions;
    }
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("%s: %zu expressions x %zu packets: %llu matches, %llu non-matches, %llu differences "
                "(%llu runs on multi-buffer frames; skipped: %llu under 14 bytes, %llu over 65535), %.1f s\n",
                source.c_str(), expressions, packets.size(), (unsigned long long)t.matches,
                (unsigned long long)t.non_matches, (unsigned long long)t.differences,
                (unsigned long long)t.multi_buffer, (unsigned long long)t.too_short, (unsigned long long)t.too_long,
                secs);
    EXPECT_GE(expressions, 150u);
    EXPECT_EQ(t.differences, 0u);
    // A translation that matched everything (or nothing) would show here.
    EXPECT_GT(t.matches, 0u);
    EXPECT_GT(t.non_matches, 0u);
}

}  // namespace

TEST(FilterDifferential, GeneratedTrafficAgreesWithLibpcap) {
    if (!bpf_skip_reason().empty()) {
        GTEST_SKIP() << bpf_skip_reason();
    }
    auto packets = generated_filter_traffic();
    // Jumbo frames: loads past the first buffer, in a frags program.
    for (uint32_t seq = 0; seq < 12; ++seq) {
        auto f = build_frame(seq);
        f.resize(9000, uint8_t(seq));
        packets.push_back(std::move(f));
    }
    run_corpus(packets, "generated traffic");
}

TEST(FilterDifferential, SharedCapturesAgreeWithLibpcap) {
    if (!bpf_skip_reason().empty()) {
        GTEST_SKIP() << bpf_skip_reason();
    }
    auto shared = load_shared_captures(XCAP_TESTDATA_DIR "/tcpdump-tests");
    if (shared.files == 0) {
        GTEST_SKIP() << XCAP_TESTDATA_DIR "/tcpdump-tests is absent (../shared is not beside the project)";
    }
    ASSERT_GE(shared.ethernet_files, 200u);
    auto& packets = shared.packets;
    run_corpus(packets, "shared captures");
}

// Classic programs libpcap would never write (ret a, jset x, stores and loads
// of X, shifts by X, division by an X that is sometimes 0, loads at the edge
// of short frames), at random from a fixed seed: each must load, and agree
// with libpcap's interpreter on every frame. M[] is written first because
// libpcap 1.10's interpreter does not clear it.
TEST(FilterDifferential, RandomClassicProgramsAgreeWithLibpcap) {
    if (!bpf_skip_reason().empty()) {
        GTEST_SKIP() << bpf_skip_reason();
    }
    const auto set = random_classic_programs();
    const auto& frames = set.frames;
    uint64_t matches = 0, non_matches = 0, differences = 0;
    const int programs = int(set.programs.size());
    for (const compiled_filter& f : set.programs) {
        SCOPED_TRACE(f.expression);
        std::optional<k_program> prog;
        try {
            prog.emplace(f, false, true);
        } catch (const std::exception& e) {
            ADD_FAILURE() << e.what() << "\n" << dump_classic(f);
            continue;
        }
        for (size_t i = 0; i < frames.size(); ++i) {
            uint32_t want = run_classic(f, frames[i]);
            auto r = prog->run(frames[i]);
            uint32_t got = r.k;
            bool same = (r.retval == XDP_PASS) == (want != 0) && got == want;
            if (!same && ++differences <= 10) {
                ADD_FAILURE() << "frame " << i << " (" << frames[i].size() << " bytes): libpcap " << want
                              << ", XDP retval " << r.retval << " k " << got << "\n" << dump_classic(f);
            }
            (want != 0 ? matches : non_matches)++;
        }
    }
    std::printf("%d random programs x %zu frames: %llu matches, %llu non-matches, %llu differences\n", programs,
                frames.size(), (unsigned long long)matches, (unsigned long long)non_matches,
                (unsigned long long)differences);
    EXPECT_EQ(differences, 0u);
    EXPECT_GT(matches, 0u);
    EXPECT_GT(non_matches, 0u);
}
