// Jumbo frames (issue 14) across a veth pair at MTU 9000 both ends: capture
// with AF_XDP multi-buffer (Linux 6.6+), replay as multi-descriptor sends,
// and, where multi-buffer is missing (the guest's 6.1, or
// XCAP_NO_MULTIBUFFER=1 to take that path on a newer kernel), the refusal
// of --xdp-mode native and the too_large count. Needs root; skips with the
// reason otherwise.
#include <gtest/gtest.h>
#include <linux/if_xdp.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <map>

#include "frames.h"
#include "filter/filter.h"
#include "netns_test.h"
#include "pcap_file.h"

using namespace xcap::test;

namespace {

#ifndef XDP_USE_SG
#define XDP_USE_SG (1 << 4)
#endif

constexpr uint32_t n_frames = 1000;
// One 4 KiB UMEM frame less the kernel's 256-byte headroom: the most one
// descriptor holds, so the longest frame xcap takes without multi-buffer;
// 32 bytes less where the metadata travels in the frame (the kernel refuses
// XDP programs the metadata area: filter/filter.h).
uint32_t one_frame() { return 3840 - (xcap::xdp_metadata_allowed() ? 0 : 32); }

// Whether this kernel's AF_XDP takes XDP_USE_SG: it checks the flags before
// it looks the interface up (ENODEV then, EINVAL for an unknown flag).
bool kernel_has_multibuffer() {
    int fd = socket(AF_XDP, SOCK_RAW | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return false;
    }
    sockaddr_xdp sxdp{};
    sxdp.sxdp_family = AF_XDP;
    sxdp.sxdp_flags = XDP_USE_SG | XDP_COPY;
    bool yes = bind(fd, reinterpret_cast<sockaddr*>(&sxdp), sizeof(sxdp)) != 0 && errno == ENODEV;
    close(fd);
    return yes;
}

class Jumbo : public netns_test {
protected:
    void prepare() override { set_mtu(9000, 9000); }

    void set_mtu(uint32_t sender, uint32_t receiver) {
        auto r = sh("ip -n " + net->sender_ns() + " link set dev " + net->sender_if() + " mtu " +
                    std::to_string(sender) + " && ip -n " + net->receiver_ns() + " link set dev " +
                    net->receiver_if() + " mtu " + std::to_string(receiver));
        ASSERT_EQ(r.status, 0) << r.output;
    }

    // With `no_multibuffer`, xcap takes the path of a kernel without
    // AF_XDP multi-buffer (XCAP_NO_MULTIBUFFER=1).
    std::vector<std::string> xcap(std::vector<std::string> args, bool no_multibuffer = false) {
        auto argv = netns_test::xcap(std::move(args));
        if (no_multibuffer) {
            argv.insert(std::find(argv.begin(), argv.end(), std::string(XCAP_BIN)), {"env", "XCAP_NO_MULTIBUFFER=1"});
        }
        return argv;
    }

    // Captures n jumbo frames with `args`; returns xcap's stderr.
    std::string capture(std::vector<std::string> args, bool no_multibuffer = false) {
        child x = start_attached(xcap(args, no_multibuffer), "xcap", 30);
        std::string gen = send(n_frames, {"--threads", "2", "--jumbo"}, 120);
        EXPECT_NE(gen.find("sent " + std::to_string(n_frames)), std::string::npos) << gen;
        // Delivery is asynchronous: wait until the receiver counted every
        // frame, or its count stood still for a second (frames dropped in XDP
        // may not be counted there).
        uint64_t last = 0;
        for (int still = 0; still < 20 && (last = net->receiver_rx_packets()) < rx_before + n_frames;) {
            usleep(50'000);
            still = net->receiver_rx_packets() == last ? still + 1 : 0;
        }
        usleep(200'000);
        x.signal(SIGINT);
        EXPECT_EQ(x.wait(60), 0) << read_text(path("xcap.err"));
        EXPECT_FALSE(net->receiver_has_xdp()) << "xcap left its program attached";
        return read_text(path("xcap.err"));
    }

    // Every record is a frame sent, byte for byte, none twice, in order per
    // sender thread (= queue); returns how many of each seq were seen.
    std::map<uint32_t, int> expect_jumbo_frames(const std::vector<file_packet>& recs) {
        std::map<uint32_t, int> seen;
        std::map<unsigned, int64_t> last;
        for (size_t i = 0; i < recs.size(); ++i) {
            const auto& r = recs[i];
            auto seq = frame_seq(r.data.data(), uint32_t(r.data.size()));
            EXPECT_TRUE(seq) << "record " << i << " (" << r.caplen << " of " << r.len << " bytes) is not a frame "
                             << "the test sent, or not whole";
            if (!seq) {
                continue;
            }
            auto want = build_jumbo_frame(*seq);
            EXPECT_EQ(r.len, want.size()) << "record " << i << " seq " << *seq;
            EXPECT_TRUE(r.data == want) << "record " << i << " seq " << *seq << " differs";
            EXPECT_EQ(++seen[*seq], 1) << "seq " << *seq << " captured twice";
            unsigned t = *seq % 2;
            if (last.count(t)) {
                EXPECT_GT(int64_t(*seq), last[t]) << "queue " << t << " out of order at record " << i;
            }
            last[t] = *seq;
        }
        return seen;
    }

    uint64_t rx_before = 0;
};

struct mode_format {
    const char* mode;
    const char* file;
};

class JumboCapture : public Jumbo, public ::testing::WithParamInterface<mode_format> {};

}  // namespace

// 1,000 frames of 60 to 9,014 bytes (9,018 with a VLAN tag) in the file byte
// for byte, in order per queue: multi-buffer in native and generic XDP, pcap
// and pcapng.
TEST_P(JumboCapture, EveryFrameWholeInOrder) {
    if (!kernel_has_multibuffer()) {
        GTEST_SKIP() << "this kernel's AF_XDP has no multi-buffer (Linux 6.6+); Jumbo.WithoutMultiBuffer* cover it";
    }
    rx_before = net->receiver_rx_packets();
    std::string err = capture({"-w", path(GetParam().file), "--xdp-mode", GetParam().mode});
    auto recs = read_capture(path(GetParam().file));
    ASSERT_EQ(recs.size(), n_frames) << err;
    auto seen = expect_jumbo_frames(recs);
    EXPECT_EQ(seen.size(), n_frames);
    uint32_t largest = 0;
    for (const auto& r : recs) {
        largest = std::max(largest, r.len);
    }
    EXPECT_EQ(largest, 9018u) << "the VLAN-tagged maximum is among them";
    EXPECT_NE(err.find("multi-buffer"), std::string::npos) << err;
    EXPECT_EQ(err.find("too_large"), std::string::npos) << err;
    EXPECT_EQ(number_in(err, "([0-9]+) packets dropped"), 0u) << err;
}

// --tap at MTU 9000: the tap program copies every fragment of a jumbo frame
// (bpf_xdp_load_bytes), so the 1,000 frames are in the file whole, in order
// per queue; and `ping -s 8000` both ways works while it runs (every packet
// goes on to the stack), its 8,042-byte frames in the file whole too.
TEST_F(Jumbo, TapCopiesWholeJumboFramesAndLetsThemOn) {
    rx_before = net->receiver_rx_packets();
    std::string err = capture({"--tap", "-Q", "in", "-w", path("tap.pcapng")});
    auto recs = read_capture(path("tap.pcapng"));
    ASSERT_EQ(recs.size(), n_frames) << err;
    auto seen = expect_jumbo_frames(recs);
    EXPECT_EQ(seen.size(), n_frames);
    EXPECT_EQ(number_in(err, "([0-9]+) packets dropped"), 0u) << err;

    child x(xcap({"--tap", "-Q", "in", "-w", path("ping.pcapng")}), path("x2.out"), path("x2.err"));
    ASSERT_TRUE(net->wait_receiver_xdp(true, 30)) << read_text(path("x2.err"));
    auto there = sh("ip netns exec " + net->sender_ns() + " ping -c 3 -i 0.2 -W 5 -s 8000 198.18.0.2");
    auto back = sh("ip netns exec " + net->receiver_ns() + " ping -c 3 -i 0.2 -W 5 -s 8000 198.18.0.1");
    x.signal(SIGINT);
    ASSERT_EQ(x.wait(60), 0) << read_text(path("x2.err"));
    EXPECT_EQ(there.status, 0) << "ping through --tap: " << there.output;
    EXPECT_EQ(back.status, 0) << "ping from the tapped side: " << back.output;
    // 8,000 bytes of payload are an 8,028-byte IP packet, within the MTU:
    // one 8,042-byte frame each. XDP sees what arrives on the tapped side:
    // the 3 requests of the first ping and the 3 replies of the second.
    uint32_t whole = 0;
    for (const auto& r : read_capture(path("ping.pcapng"))) {
        if (r.len == 8042) {
            EXPECT_EQ(r.caplen, r.len) << "a jumbo ping frame cut short";
            whole += r.caplen == r.len;
        }
    }
    EXPECT_EQ(whole, 6u) << "3 echo requests and 3 replies arrive on the tapped side";
}

INSTANTIATE_TEST_SUITE_P(Modes, JumboCapture,
                         ::testing::Values(mode_format{"native", "j.pcap"}, mode_format{"generic", "j.pcapng"},
                                           mode_format{"native", "j.pcapng"}),
                         [](const auto& info) {
                             return std::string(info.param.mode) +
                                    (std::string(info.param.file).ends_with("ng") ? "_pcapng" : "_pcap");
                         });

// Without multi-buffer, --xdp-mode native is refused with one line naming the
// MTU and the largest frame xcap can capture; nothing is left attached.
TEST_F(Jumbo, WithoutMultiBufferNativeIsRefused) {
    const bool simulated = kernel_has_multibuffer();
    child x(xcap({"-w", path("n.pcap"), "--xdp-mode", "native"}, simulated), path("xcap.out"), path("xcap.err"));
    EXPECT_EQ(x.wait(60), 7) << read_text(path("xcap.err"));
    std::string err = read_text(path("xcap.err"));
    EXPECT_NE(err.find("MTU 9000 allows frames of up to 9018 bytes, but xcap can capture at most " +
                       std::to_string(one_frame()) + " bytes"),
              std::string::npos)
        << err;
    EXPECT_NE(err.find("multi-buffer"), std::string::npos) << err;
    EXPECT_NE(err.find("mtu " + std::to_string(one_frame() - 18)), std::string::npos) << "the hint names an MTU that fits: " << err;
    EXPECT_FALSE(net->receiver_has_xdp());
}

// Without multi-buffer, the default mode goes on: one line at start, every
// frame that fits one buffer captured whole, the rest counted as too_large.
TEST_F(Jumbo, WithoutMultiBufferOversizeIsCountedTooLarge) {
    const bool simulated = kernel_has_multibuffer();
    rx_before = net->receiver_rx_packets();
    std::string err = capture({"-w", path("d.pcap")}, simulated);
    uint64_t fits = 0;
    for (uint32_t s = 0; s < n_frames; ++s) {
        fits += build_jumbo_frame(s).size() <= one_frame();
    }
    ASSERT_GT(fits, 0u);
    ASSERT_LT(fits, n_frames);
    auto recs = read_capture(path("d.pcap"));
    auto seen = expect_jumbo_frames(recs);
    for (const auto& [seq, count] : seen) {
        EXPECT_LE(build_jumbo_frame(seq).size(), one_frame());
    }
    EXPECT_NE(err.find("MTU 9000 allows frames of up to 9018 bytes, but xcap can capture at most " +
                       std::to_string(one_frame()) + " bytes"),
              std::string::npos)
        << err;
    // Every frame is in the file or counted: those longer than a buffer, and
    // any a driver split over two buffers.
    const uint64_t too_large = number_in(err, "too_large ([0-9]+)");
    EXPECT_EQ(recs.size() + too_large, n_frames) << err;
    EXPECT_GE(too_large, n_frames - fits) << err;
    EXPECT_GE(recs.size(), fits * 9 / 10) << "most frames that fit a buffer are captured: " << err;
    EXPECT_EQ(number_in(err, "([0-9]+) packets dropped"), too_large) << err;
}

// Without multi-buffer the capture program is loaded without frags, and a
// filter entry program chains to it (a tail call needs the same setting).
TEST_F(Jumbo, WithoutMultiBufferAFilterStillChains) {
    rx_before = net->receiver_rx_packets();
    std::string err = capture({"-w", path("f.pcap"), "ip and udp"}, kernel_has_multibuffer());
    auto recs = read_capture(path("f.pcap"));
    ASSERT_GT(recs.size(), 0u) << err;
    for (const auto& r : recs) {
        auto seq = frame_seq(r.data.data(), uint32_t(r.data.size()));
        ASSERT_TRUE(seq);
        EXPECT_EQ(kind_of(*seq), frame_kind::udp4);
        EXPECT_LE(r.len, one_frame());
    }
}

// Raising the MTU under a capture that cannot take the larger frames: one
// line. Generic XDP: in native mode veth itself refuses to raise its peer's
// MTU past a page under a program without frags.
TEST_F(Jumbo, MtuRaisedWhileCapturingIsReported) {
    set_mtu(1500, 1500);
    child x(xcap({"-w", path("m.pcap"), "--xdp-mode", "generic"}, true), path("xcap.out"), path("xcap.err"));
    ASSERT_TRUE(net->wait_receiver_xdp(true, 30)) << read_text(path("xcap.err"));
    EXPECT_EQ(read_text(path("xcap.err")).find("too_large"), std::string::npos) << "MTU 1500 fits one frame";
    set_mtu(9000, 9000);
    std::string err;
    for (int i = 0; i < 200; ++i) {
        err = read_text(path("xcap.err"));
        if (err.find("MTU changed to 9000") != std::string::npos) {
            break;
        }
        usleep(50'000);
    }
    x.signal(SIGINT);
    EXPECT_EQ(x.wait(60), 0) << err;
    err = read_text(path("xcap.err"));
    EXPECT_NE(err.find("MTU changed to 9000 while capturing: frames of up to 9018 bytes can arrive, but this capture "
                       "takes at most " + std::to_string(one_frame()) + " bytes per frame"),
              std::string::npos)
        << err;
}

namespace {

// The frames of a replay's file: 100 us apart, from a time in 2026.
constexpr uint64_t replay_gap_ns = 100'000;
constexpr uint64_t replay_start_ns = 1'790'000'000'000'000'000ull;

class JumboReplay : public Jumbo, public ::testing::WithParamInterface<const char*> {};

}  // namespace

// A capture holding jumbo frames, replayed (preloaded and streamed), arrives
// byte-identical at the other end, as tcpdump there sees it.
TEST_P(JumboReplay, ArrivesByteIdentical) {
    if (!kernel_has_multibuffer()) {
        GTEST_SKIP() << "this kernel's AF_XDP has no multi-buffer sends (Linux 6.6+)";
    }
    if (!have_tool("tcpdump")) {
        GTEST_SKIP() << "tcpdump is not installed";
    }
    std::vector<std::vector<uint8_t>> frames;
    for (uint32_t s = 0; s < n_frames; ++s) {
        frames.push_back(build_jumbo_frame(s));
    }
    write_pcap(path("in.pcap"), as_records(frames, replay_gap_ns, replay_start_ns));
    child td(net->in_receiver({"tcpdump", "-i", net->receiver_if(), "-Q", "in", "-s", "0", "-U", "--immediate-mode", "-B", "32768", "-w",
                               path("peer.pcap")}),
             path("td.out"), path("td.err"));
    ASSERT_TRUE(wait_for_text(path("td.err"), "listening on", 10)) << read_text(path("td.err"));
    const uint64_t rx0 = net->receiver_rx_packets();
    std::vector<std::string> argv = {XCAP_BIN, "replay", "-i", net->sender_if(), "-r", path("in.pcap"), "--pps",
                                     "20000"};
    if (std::string(GetParam()) == "streamed") {
        argv.insert(argv.end(), {"--preload", "0"});
    }
    child r(net->in_sender(argv), path("replay.out"), path("replay.err"));
    ASSERT_EQ(r.wait(120), 0) << read_text(path("replay.err"));
    std::string err = read_text(path("replay.err"));
    EXPECT_EQ(number_in(err, "sent ([0-9]+) packets"), n_frames) << err;
    EXPECT_NE(err.find("multi-buffer"), std::string::npos) << err;
    for (int i = 0; i < 200 && net->receiver_rx_packets() < rx0 + n_frames; ++i) {
        usleep(50'000);
    }
    usleep(300'000);
    td.signal(SIGINT);
    ASSERT_EQ(td.wait(30), 0) << read_text(path("td.err"));
    auto got = read_capture(path("peer.pcap"));
    if (got.size() != n_frames) {
        std::string missing;
        std::map<uint32_t, int> have;
        for (const auto& g : got) {
            if (auto s = frame_seq(g.data.data(), uint32_t(g.data.size()))) {
                ++have[*s];
            }
        }
        for (uint32_t s = 0; s < n_frames && missing.size() < 400; ++s) {
            if (!have.count(s)) {
                missing += " " + std::to_string(s) + "(" + std::to_string(frames[s].size()) + ")";
            }
        }
        ADD_FAILURE() << "missing at the peer:" << missing << "\n" << err;
    }
    ASSERT_EQ(got.size(), n_frames) << read_text(path("td.err"));
    for (uint32_t i = 0; i < n_frames; ++i) {
        ASSERT_EQ(got[i].len, frames[i].size()) << "packet " << i;
        ASSERT_TRUE(got[i].data == frames[i]) << "packet " << i << " differs";
    }
}

INSTANTIATE_TEST_SUITE_P(Paths, JumboReplay, ::testing::Values("preloaded", "streamed"));

// Sending at MTU 1500: the frames longer than the interface takes are skipped
// and counted; the rest go.
TEST_F(Jumbo, ReplayOnMtu1500SkipsAndCounts) {
    set_mtu(1500, 1500);
    std::vector<std::vector<uint8_t>> frames;
    uint64_t too_big = 0;
    for (uint32_t s = 0; s < n_frames; ++s) {
        frames.push_back(build_jumbo_frame(s));
        const auto& f = frames.back();
        const bool vlan = f[12] == 0x81 && f[13] == 0x00;
        too_big += f.size() > (vlan ? 1518u : 1514u);
    }
    write_pcap(path("in.pcap"), as_records(frames, replay_gap_ns, replay_start_ns));
    child r(net->in_sender({XCAP_BIN, "replay", "-i", net->sender_if(), "-r", path("in.pcap"), "--topspeed"}),
            path("replay.out"), path("replay.err"));
    ASSERT_EQ(r.wait(120), 0) << read_text(path("replay.err"));
    std::string err = read_text(path("replay.err"));
    EXPECT_EQ(number_in(err, "skipped ([0-9]+) larger than"), too_big) << err;
    EXPECT_EQ(number_in(err, "sent ([0-9]+) packets"), n_frames - too_big) << err;
    EXPECT_NE(err.find("(1514 bytes, 1518 with a VLAN tag)"), std::string::npos) << err;
}
