// xcap on a real driver: the guest's two virtio-net NICs, zc0 and zc1, which
// tests/vm/run.sh joins to each other inside qemu (a hub with these two ports
// and nothing else, so no frame leaves the guest). What veth hides is here: a
// unicast MAC filter (qemu's virtio-net drops frames for other MACs unless the
// guest asks for promiscuous mode) and, where the kernel lets virtio_net do
// it, AF_XDP zero-copy receive.
//
// VirtioNet.*: copy mode, promiscuous mode against the MAC filter, replay
// through zc0, and what xcap says and does where zero-copy is not possible.
// ZeroCopy.*: zero-copy capture; each skips, with the kernel's own answer,
// where the kernel does not let virtio_net bind zero-copy. Whether it does is
// read from the kernel's netdev family by tests/netns/netdev_dump.py, which
// shares nothing with xcap: since 6.3 the AF_XDP core binds zero-copy only
// on a device whose xdp-features hold basic, redirect and xsk-zerocopy;
// virtio_net has the receive code from 6.11 but sets xsk-zerocopy from 6.13.
//
// Everywhere but the guest (no zc0/zc1) every test skips with the reason.
#include <gtest/gtest.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <pcap/pcap.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <map>
#include <regex>
#include <sstream>

#include "frames.h"
#include "netns.h"
#include "tools.h"

using namespace xcap::test;

namespace {

const std::string sender = "zc0";
const std::string receiver = "zc1";

std::string first_line(const std::string& path) {
    std::string s = read_text(path);
    return s.substr(0, s.find('\n'));
}

std::string kernel_release() {
    utsname u{};
    uname(&u);
    return u.release;
}

std::string nic_unavailable_reason() {
    if (geteuid() != 0) {
        return "needs root";
    }
    for (const auto& n : {sender, receiver}) {
        if (!file_exists("/sys/class/net/" + n)) {
            return "no " + n + " here: these tests run in the guest lane (tests/vm/run.sh gives every guest "
                   "the virtio-net pair zc0/zc1)";
        }
        if (first_line("/sys/class/net/" + n + "/operstate") != "up") {
            return n + " is not up";
        }
    }
    return "";
}

std::array<uint8_t, 6> mac_of(const std::string& ifname) {
    std::array<uint8_t, 6> mac{};
    std::string text = first_line("/sys/class/net/" + ifname + "/address");
    unsigned b[6] = {};
    if (std::sscanf(text.c_str(), "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5]) == 6) {
        for (int i = 0; i < 6; ++i) {
            mac[i] = uint8_t(b[i]);
        }
    }
    return mac;
}

// What the kernel itself says of zc1's zero-copy: its netdev family's
// xdp-features, read by the independent reader.
struct zero_copy_facts {
    bool family = false;    // the kernel has the netdev family (6.3+)
    uint64_t features = 0;  // zc1's xdp-features
    bool possible = false;  // basic, redirect and xsk-zerocopy all set
    std::string said;       // for skip messages
};

zero_copy_facts read_zero_copy(const std::string& ifname) {
    zero_copy_facts z;
    auto r = run_command("python3 " + shell_quote(NETDEV_DUMP_PY));
    EXPECT_EQ(r.status, 0) << r.output;
    z.family = r.output.find("no-family") == std::string::npos;
    const std::string want = "ifindex=" + std::to_string(if_nametoindex(ifname.c_str())) + " ";
    std::istringstream in(r.output);
    for (std::string line; std::getline(in, line);) {
        std::smatch m;
        if (line.rfind(want, 0) == 0 && std::regex_search(line, m, std::regex("xdp-features=([0-9]+)"))) {
            z.features = std::stoull(m[1]);
        }
    }
    static const char* const names[] = {"basic", "redirect", "ndo-xmit", "xsk-zerocopy", "hw-offload", "rx-sg",
                                        "ndo-xmit-sg"};
    std::string list;
    for (int i = 0; i < 7; ++i) {
        if (z.features & (uint64_t(1) << i)) {
            list += (list.empty() ? "" : ", ") + std::string(names[i]);
        }
    }
    const uint64_t zc_needs = 1 | 2 | 8;  // NETDEV_XDP_ACT_BASIC | _REDIRECT | _XSK_ZEROCOPY
    z.possible = z.family && (z.features & zc_needs) == zc_needs;
    if (!z.family) {
        z.said = "kernel " + kernel_release() + " has no netdev family (before 6.3), and virtio_net has no "
                 "AF_XDP zero-copy before 6.11";
    } else {
        z.said = "virtio_net on kernel " + kernel_release() + " reports xdp-features " +
                 (list.empty() ? "none" : list) + (z.possible ? "" : ": no xsk-zerocopy, so the kernel refuses "
                 "a zero-copy bind (EOPNOTSUPP); virtio_net reports it from 6.13");
    }
    return z;
}

// Read once per interface: the answer does not change while the guest runs,
// and python3 takes seconds to start over 9p under TCG.
zero_copy_facts zero_copy_of(const std::string& ifname) {
    static std::map<std::string, zero_copy_facts> known;
    if (!known.count(ifname)) {
        known[ifname] = read_zero_copy(ifname);
    }
    return known[ifname];
}

// Frame `seq` of the mixed traffic, to zc1's own MAC or to the MAC every
// mixed frame has (one zc1 does not own), in blocks of six so that every
// kind goes both ways. VLAN-tagged frames always go to the other MAC: for
// its own MAC qemu would also filter them by VLAN ID, which is not what the
// tests here look at. ARP frames are broadcast.
bool to_own_mac(uint32_t seq) { return (seq / 6) % 2 == 0 && kind_of(seq) != frame_kind::vlan_udp4; }

std::vector<uint8_t> frame_for(uint32_t seq, const std::array<uint8_t, 6>& own) {
    auto f = build_frame(seq);
    if (to_own_mac(seq) && kind_of(seq) != frame_kind::arp) {
        std::memcpy(f.data(), own.data(), 6);
    }
    return f;
}

bool other_mac(const std::vector<uint8_t>& f, const std::array<uint8_t, 6>& own) {
    static const uint8_t broadcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    return std::memcmp(f.data(), own.data(), 6) != 0 && std::memcmp(f.data(), broadcast, 6) != 0;
}

// Sends frames out of `ifname` through an AF_PACKET socket, in order: past
// the qdisc, since fq_codel, the default, sends its flows round robin once
// the emulated NIC's ring fills and the qdisc holds frames (ARP frames then
// overtook UDP ones). The driver refuses a frame while its ring is full
// (ENOBUFS), and that frame is sent again, for up to 10 s (the ring stays
// full when nothing takes frames at the other end). Returns "" or what
// failed.
std::string send_frames(const std::string& ifname, const std::vector<std::vector<uint8_t>>& frames) {
    int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);  // protocol 0: it receives nothing
    if (fd < 0) {
        return std::string("socket(AF_PACKET): ") + std::strerror(errno);
    }
    sockaddr_ll sll{};
    sll.sll_family = AF_PACKET;
    sll.sll_ifindex = int(if_nametoindex(ifname.c_str()));
    std::string why;
    int one = 1;
    if (setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one)) != 0) {
        why = std::string("PACKET_QDISC_BYPASS: ") + std::strerror(errno);
    } else if (bind(fd, reinterpret_cast<sockaddr*>(&sll), sizeof(sll)) != 0) {
        why = "bind to " + ifname + ": " + std::strerror(errno);
    }
    int refusals = 0;  // in a row: 10 s of them means the receiver takes nothing
    for (size_t i = 0; why.empty() && i < frames.size(); ++i) {
        // Not blocking: a full socket buffer (the driver still holding
        // frames it could not send) is a refusal too, not a wait forever.
        ssize_t n = send(fd, frames[i].data(), frames[i].size(), MSG_DONTWAIT);
        if (n < 0 && (errno == ENOBUFS || errno == EAGAIN) && ++refusals < 10'000) {
            usleep(1000);
            --i;
            continue;
        }
        refusals = 0;
        if (n != ssize_t(frames[i].size())) {
            why = "send of frame " + std::to_string(i) + " on " + ifname + ": " +
                  (n < 0 ? std::strerror(errno) : "short");
        }
    }
    close(fd);
    return why;
}

int promiscuity(const std::string& ifname) {
    auto r = run_command("ip -d link show dev " + ifname);
    std::smatch m;
    if (std::regex_search(r.output, m, std::regex("promiscuity ([0-9]+)"))) {
        return std::stoi(m[1]);
    }
    return -1;
}

bool has_xdp(const std::string& ifname) {
    return run_command("ip link show dev " + ifname).output.find(" xdp") != std::string::npos;
}

void write_pcap(const std::string& path, const std::vector<std::vector<uint8_t>>& frames) {
    pcap_t* dead = pcap_open_dead_with_tstamp_precision(DLT_EN10MB, 65535, PCAP_TSTAMP_PRECISION_NANO);
    ASSERT_NE(dead, nullptr);
    pcap_dumper_t* d = pcap_dump_open(dead, path.c_str());
    ASSERT_NE(d, nullptr) << pcap_geterr(dead);
    for (size_t i = 0; i < frames.size(); ++i) {
        pcap_pkthdr h{};
        h.ts.tv_sec = 1'790'000'000;
        h.ts.tv_usec = suseconds_t(i * 1000);  // nanoseconds with this precision
        h.caplen = h.len = uint32_t(frames[i].size());
        pcap_dump(reinterpret_cast<u_char*>(d), &h, frames[i].data());
    }
    pcap_dump_close(d);
    pcap_close(dead);
}

// The zc1 block of `xcap -D`: fact name -> value.
std::map<std::string, std::string> listing_of(const std::string& listing, const std::string& ifname) {
    std::map<std::string, std::string> facts;
    std::istringstream in(listing);
    bool inside = false;
    static const std::regex header(R"(^[0-9]+\.(\S+) .*$)");
    static const std::regex fact(R"(^    ([^:]+): (.*)$)");
    for (std::string line; std::getline(in, line);) {
        std::smatch m;
        if (std::regex_match(line, m, header)) {
            inside = m[1] == ifname;
        } else if (inside && std::regex_match(line, m, fact)) {
            facts[m[1]] = m[2];
        }
    }
    return facts;
}

class nic_test : public ::testing::Test {
protected:
    void SetUp() override {
        if (auto why = nic_unavailable_reason(); !why.empty()) {
            GTEST_SKIP() << why;
        }
        ASSERT_FALSE(scratch.path().empty());
        own = mac_of(receiver);
        // Nothing of an earlier test may still hold zc1.
        ASSERT_FALSE(has_xdp(receiver)) << "an XDP program is already on " << receiver;
        ASSERT_EQ(promiscuity(receiver), 0) << receiver << " is promiscuous before the test";
    }
    void TearDown() override {
        if (IsSkipped()) {
            return;
        }
        EXPECT_FALSE(has_xdp(receiver)) << "xcap left its program on " << receiver;
        EXPECT_FALSE(has_xdp(sender)) << "something left a program on " << sender;
        EXPECT_EQ(promiscuity(receiver), 0) << "xcap left " << receiver << " promiscuous";
    }
    std::string path(const std::string& name) const { return scratch.file(name); }

    std::vector<std::vector<uint8_t>> frames(uint32_t n) const {
        std::vector<std::vector<uint8_t>> v;
        for (uint32_t s = 0; s < n; ++s) {
            v.push_back(frame_for(s, own));
        }
        return v;
    }

    // Starts `xcap -i zc1 -w out.pcap ARGS` and waits (TCG: generously) for
    // its setup line for queue 0 ("zc1 queue 0: native XDP, ..."; a refusal
    // names the queue too), which comes once the program is attached.
    child start_capture(std::vector<std::string> args) {
        std::vector<std::string> argv = {XCAP_BIN, "-i", receiver, "-w", path("out.pcap")};
        argv.insert(argv.end(), args.begin(), args.end());
        child c(argv, path("cap.out"), path("cap.err"));
        for (int i = 0; i < 1200; ++i) {
            static const std::regex setup_line(receiver + " queue 0: [a-z]+ XDP, ");
            if (std::regex_search(read_text(path("cap.err")), setup_line) || !c.running()) {
                break;
            }
            usleep(50'000);
        }
        EXPECT_TRUE(c.running()) << "xcap ended during setup: " << read_text(path("cap.err"));
        EXPECT_TRUE(has_xdp(receiver)) << read_text(path("cap.err"));
        return c;
    }

    // Waits for a capture started with -c to end by itself; returns what it wrote.
    std::vector<file_packet> finish(child& c) {
        int rc = c.wait(120);
        if (rc == -1) {
            c.signal(SIGINT);
            c.wait(20);
            ADD_FAILURE() << "xcap did not reach its count within 120 s: " << read_text(path("cap.err"));
        } else {
            EXPECT_EQ(rc, 0) << read_text(path("cap.err"));
        }
        std::string error;
        auto got = read_capture(path("out.pcap"), &error);
        EXPECT_EQ(error, "");
        return got;
    }

    // Every frame of `want` is in `got`, byte for byte and in order, and
    // nothing else.
    void expect_same(const std::vector<file_packet>& got, const std::vector<std::vector<uint8_t>>& want) {
        auto seqs = [](const auto& list, auto bytes) {
            std::string s;
            for (const auto& f : list) {
                const auto& b = bytes(f);
                auto seq = frame_seq(b.data(), uint32_t(b.size()));
                s += (seq ? std::to_string(*seq) : "?") + "/" + std::to_string(b.size()) + " ";
            }
            return s;
        };
        const std::string listing = "\ngot (seq/bytes): " + seqs(got, [](const file_packet& p) { return p.data; }) +
                                    "\nsent: " + seqs(want, [](const std::vector<uint8_t>& f) { return f; });
        ASSERT_EQ(got.size(), want.size()) << read_text(path("cap.err")) << listing;
        for (size_t i = 0; i < want.size(); ++i) {
            if (got[i].data == want[i]) {
                continue;
            }
            // The first difference, with the records around it and their
            // receive stamps (in arrival order at the XDP program).
            std::string around;
            for (size_t k = i >= 3 ? i - 3 : 0; k < std::min(got.size(), i + 4); ++k) {
                auto seq = frame_seq(got[k].data.data(), uint32_t(got[k].data.size()));
                around += "\n  record " + std::to_string(k) + ": seq " + (seq ? std::to_string(*seq) : "?") +
                          ", stamped " + std::to_string(got[k].ts_ns - got[0].ts_ns) + " ns after the first";
            }
            ASSERT_EQ(got[i].len, want[i].size()) << "record " << i << around << listing;
            ASSERT_EQ(got[i].data, want[i]) << "record " << i << around << listing;
        }
    }

    // The capture of frames to zc1 and to another MAC, with promiscuous
    // mode (xcap's default): every frame arrives. `bind` is --bind's value;
    // returns xcap's stderr.
    std::string capture_everything(const std::string& bind) {
        const auto sent = frames(300);
        child c = start_capture({"--bind", bind, "-c", std::to_string(sent.size())});
        EXPECT_EQ(promiscuity(receiver), 1) << "xcap did not put " << receiver << " in promiscuous mode";
        EXPECT_EQ(send_frames(sender, sent), "");
        auto got = finish(c);
        size_t others = 0;
        for (const auto& f : sent) {
            others += other_mac(f, own);
        }
        EXPECT_GE(others, 100u) << "the test must send frames to another MAC";
        expect_same(got, sent);
        return read_text(path("cap.err"));
    }

    temp_dir scratch;
    std::array<uint8_t, 6> own{};
};

class VirtioNet : public nic_test {};

class ZeroCopy : public nic_test {
protected:
    void SetUp() override {
        nic_test::SetUp();
        if (IsSkipped() || HasFatalFailure()) {
            return;
        }
        auto z = zero_copy_of(receiver);
        if (!z.possible) {
            GTEST_SKIP() << "zero-copy blocked here: " << z.said;
        }
    }
};

}  // namespace

// Copy mode on the real driver, promiscuous (the default): every frame sent
// from zc0 is in the file byte for byte and in order, also the ones to a MAC
// zc1 does not own.
TEST_F(VirtioNet, CopyModeCapturesEveryFrameIncludingOtherMacs) {
    std::string err = capture_everything("copy");
    EXPECT_NE(err.find(receiver + " queue 0: native XDP, copy mode"), std::string::npos) << err;
}

// With -p the NIC's own filter stays: frames to other MACs never reach XDP.
// This is what makes the test above one of promiscuous mode.
TEST_F(VirtioNet, WithoutPromiscuousModeTheNicDropsOtherMacs) {
    // 289 frames: the last (288, UDP, in an even block of six) goes to zc1's
    // own MAC, and xcap -c stops on it, so any frame to another MAC that got
    // through before it would be in the file.
    const auto sent = frames(289);
    ASSERT_FALSE(other_mac(sent.back(), own));
    std::vector<std::vector<uint8_t>> want;
    for (const auto& f : sent) {
        if (!other_mac(f, own)) {
            want.push_back(f);
        }
    }
    ASSERT_GE(want.size(), 100u);
    ASSERT_LE(want.size(), 200u);
    child c = start_capture({"-p", "-c", std::to_string(want.size())});
    EXPECT_EQ(promiscuity(receiver), 0) << "-p must leave " << receiver << " as it was";
    ASSERT_EQ(send_frames(sender, sent), "");
    auto got = finish(c);
    for (size_t i = 0; i < got.size(); ++i) {
        ASSERT_FALSE(other_mac(got[i].data, own)) << "record " << i << ": a frame to another MAC got through";
    }
    expect_same(got, want);
}

// xcap replay out of zc0 (no XDP program there, so through the AF_XDP
// socket: copy mode where zero-copy transmit is not possible, 6.12 included,
// zero-copy where it is, from 6.13) reaches zc1 byte for byte, in file order.
TEST_F(VirtioNet, ReplayThroughZc0ArrivesByteForByte) {
    const auto sent = frames(300);
    write_pcap(path("in.pcap"), sent);
    child c = start_capture({"-c", std::to_string(sent.size())});
    child r({XCAP_BIN, "replay", "-i", sender, "-r", path("in.pcap"), "--topspeed", "-v"}, path("replay.out"),
            path("replay.err"));
    ASSERT_EQ(r.wait(120), 0) << read_text(path("replay.err"));
    const std::string rerr = read_text(path("replay.err"));
    EXPECT_NE(rerr.find(sender + " TX queue 0: "), std::string::npos) << rerr;
    EXPECT_NE(rerr.find(sender + " TX queue 0: " + (zero_copy_of(sender).possible ? "zero-copy" : "copy") + " mode"),
              std::string::npos)
        << rerr;
    auto got = finish(c);
    expect_same(got, sent);
}

// Where the kernel does not let virtio_net bind zero-copy, --bind zerocopy is
// refused with exit 7 and one line, and nothing stays behind.
TEST_F(VirtioNet, ZeroCopyRefusedWithOneLineWhereTheKernelCannot) {
    auto z = zero_copy_of(receiver);
    if (z.possible) {
        GTEST_SKIP() << "zero-copy is possible here: " << z.said;
    }
    auto r = run_command(std::string(XCAP_BIN) + " -q --bind zerocopy -i " + receiver + " -w " +
                         shell_quote(path("zc.pcap")) + " -c 1");
    EXPECT_EQ(r.status, 7) << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
    EXPECT_EQ(r.output.rfind("xcap: zero-copy AF_XDP refused on " + receiver + " queue 0: ", 0), 0u) << r.output;
    // Without -q the setup's own notice (promiscuous mode) may come first;
    // the refusal is still the one line that says what went wrong.
    r = run_command(std::string(XCAP_BIN) + " --bind zerocopy -i " + receiver + " -w " + shell_quote(path("zc.pcap")) +
                    " -c 1");
    EXPECT_EQ(r.status, 7) << r.output;
    EXPECT_NE(r.output.find("zero-copy AF_XDP refused on " + receiver), std::string::npos) << r.output;
    EXPECT_LE(std::count(r.output.begin(), r.output.end(), '\n'), 2) << r.output;
}

// There, --bind auto falls back to copy mode, says so, and captures.
TEST_F(VirtioNet, AutoFallsBackToCopyWhereTheKernelCannot) {
    auto z = zero_copy_of(receiver);
    if (z.possible) {
        GTEST_SKIP() << "zero-copy is possible here: " << z.said;
    }
    std::string err = capture_everything("auto");
    EXPECT_NE(err.find(receiver + " queue 0: native XDP, copy mode"), std::string::npos) << err;
    EXPECT_EQ(err.find("zero-copy mode"), std::string::npos) << err;
}

// xcap -D says of zc1 what the kernel says: the driver, and zero-copy yes
// exactly where the kernel's xdp-features allow the bind.
TEST_F(VirtioNet, DeviceListAgreesWithTheKernel) {
    auto r = run_command(std::string(XCAP_BIN) + " -D");
    ASSERT_EQ(r.status, 0) << r.output;
    auto facts = listing_of(r.output, receiver);
    ASSERT_FALSE(facts.empty()) << r.output;
    EXPECT_EQ(facts["driver"].rfind("virtio_net", 0), 0u) << r.output;
    auto z = zero_copy_of(receiver);
    if (!z.family) {
        EXPECT_EQ(facts["XDP features"], "not reported by this kernel") << r.output;
        return;
    }
    EXPECT_EQ(facts["AF_XDP zero-copy"].rfind(z.possible ? "yes" : "no (copy mode only)", 0), 0u)
        << r.output << "\nthe kernel: " << z.said;
}

// Zero-copy on the real driver: --bind zerocopy binds in zero-copy mode and
// the file holds every frame byte for byte, the ones to other MACs too.
TEST_F(ZeroCopy, BindZerocopyCapturesEveryFrameIncludingOtherMacs) {
    std::string err = capture_everything("zerocopy");
    EXPECT_NE(err.find(receiver + " queue 0: native XDP, zero-copy mode"), std::string::npos) << err;
}

// --bind auto (the default) picks zero-copy by itself and says so.
TEST_F(ZeroCopy, AutoPicksZeroCopyAndSaysSo) {
    std::string err = capture_everything("auto");
    EXPECT_NE(err.find(receiver + " queue 0: native XDP, zero-copy mode"), std::string::npos) << err;
}

// xcap -D reports it.
TEST_F(ZeroCopy, DeviceListSaysZeroCopy) {
    auto r = run_command(std::string(XCAP_BIN) + " -D");
    ASSERT_EQ(r.status, 0) << r.output;
    auto facts = listing_of(r.output, receiver);
    EXPECT_EQ(facts["AF_XDP zero-copy"].rfind("yes", 0), 0u) << r.output;
}

// Both ends zero-copy: xcap replay --bind zerocopy out of zc0 and a
// --bind zerocopy capture on zc1; every frame arrives byte for byte, in
// file order, and neither end fell back to copy mode.
TEST_F(ZeroCopy, ReplayAndCaptureBothZeroCopy) {
    if (!zero_copy_of(sender).possible) {
        GTEST_SKIP() << "zero-copy transmit blocked on " << sender << ": " << zero_copy_of(sender).said;
    }
    const auto sent = frames(300);
    write_pcap(path("in.pcap"), sent);
    child c = start_capture({"--bind", "zerocopy", "-c", std::to_string(sent.size())});
    child r({XCAP_BIN, "replay", "-i", sender, "-r", path("in.pcap"), "--bind", "zerocopy", "--topspeed", "-v"},
            path("replay.out"), path("replay.err"));
    ASSERT_EQ(r.wait(120), 0) << read_text(path("replay.err"));
    const std::string rerr = read_text(path("replay.err"));
    EXPECT_NE(rerr.find(sender + " TX queue 0: zero-copy mode"), std::string::npos) << rerr;
    auto got = finish(c);
    EXPECT_NE(read_text(path("cap.err")).find(receiver + " queue 0: native XDP, zero-copy mode"), std::string::npos)
        << read_text(path("cap.err"));
    expect_same(got, sent);
}

// Jumbo frames on a driver whose zero-copy mode takes a frame in one buffer
// (virtio_net: xdp-zc-max-segs 1). At MTU 9000 --bind zerocopy is refused
// with exit 7 and a line that says why (the MTU, not the driver as such),
// and --bind auto captures in copy mode with multi-buffer.
TEST_F(ZeroCopy, JumboMtuRefusedWithTheReasonAndAutoFallsBack) {
    auto listing = run_command(std::string(XCAP_BIN) + " -D");
    ASSERT_EQ(listing.status, 0) << listing.output;
    const std::string zc = listing_of(listing.output, receiver)["AF_XDP zero-copy"];
    if (zc.find("xdp-zc-max-segs 1)") == std::string::npos) {
        GTEST_SKIP() << receiver << " may take a jumbo frame in several zero-copy buffers: " << zc;
    }
    struct mtu_guard {
        std::string ifname;
        ~mtu_guard() { run_command("ip link set dev " + ifname + " mtu 1500"); }
    } restore{receiver};
    auto set = run_command("ip link set dev " + receiver + " mtu 9000 2>&1");
    ASSERT_EQ(set.status, 0) << set.output;

    auto refused = run_command(std::string(XCAP_BIN) + " -i " + receiver + " --bind zerocopy -c 1 -w " +
                               shell_quote(path("refused.pcap")) + " 2>&1");
    EXPECT_EQ(refused.status, 7) << refused.output;
    EXPECT_NE(refused.output.find("zero-copy AF_XDP refused on " + receiver + " queue 0"), std::string::npos)
        << refused.output;
    EXPECT_NE(refused.output.find("or not at this MTU, where a frame needs several buffers"), std::string::npos)
        << refused.output;
    EXPECT_FALSE(has_xdp(receiver)) << "the refusal left a program on " << receiver;

    child c = start_capture({"-v"});
    c.signal(SIGINT);
    EXPECT_EQ(c.wait(60), 0) << read_text(path("cap.err"));
    EXPECT_NE(read_text(path("cap.err")).find(receiver + " queue 0: native XDP, copy mode, multi-buffer"),
              std::string::npos)
        << read_text(path("cap.err"));
}

// Zero-copy frames go back to the NIC and are filled again: with a packet
// buffer of 1 MiB (-B 1m, a few hundred frames) a capture of 1,200 frames
// reuses every frame several times while the NIC writes into them
// directly. Each frame sent is in the file exactly once, byte for byte (in
// any order: a full receive ring in qemu may swap two, tests/vm/README.md).
TEST_F(ZeroCopy, FramesGoingBackToTheNicStayWhole) {
    const auto sent = frames(1200);
    child c = start_capture({"--bind", "zerocopy", "-B", "1m", "-c", std::to_string(sent.size())});
    const std::string setup = read_text(path("cap.err"));
    std::smatch m;
    ASSERT_TRUE(std::regex_search(setup, m, std::regex(receiver + " queue 0: native XDP, zero-copy mode.*, ([0-9]+) frames")))
        << setup;
    EXPECT_LT(std::stoul(m[1]), sent.size() / 2) << "the test needs every frame reused: " << setup;
    if (const std::string why = send_frames(sender, sent); !why.empty()) {
        c.signal(SIGINT);
        c.wait(30);
        FAIL() << why << " (frames not going back to the NIC?)\n" << read_text(path("cap.err"));
    }
    auto got = finish(c);
    ASSERT_EQ(got.size(), sent.size()) << read_text(path("cap.err"));
    std::vector<int> seen(sent.size(), 0);
    for (size_t i = 0; i < got.size(); ++i) {
        auto seq = frame_seq(got[i].data.data(), uint32_t(got[i].data.size()));
        ASSERT_TRUE(seq && *seq < sent.size()) << "record " << i << " is not a frame the test sent";
        ++seen[*seq];
        EXPECT_EQ(got[i].data, sent[*seq]) << "record " << i << " (frame " << *seq << ") differs";
    }
    EXPECT_EQ(std::count(seen.begin(), seen.end(), 1), std::ptrdiff_t(sent.size())) << "a frame missing or twice";
}
