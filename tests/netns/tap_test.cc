// Tap mode and several interfaces, end to end in throwaway namespaces: while
// `xcap --tap` runs, the host's own traffic (TCP, ping) goes on and the file
// holds a copy of every packet; a stalled reader fills the rings and every
// loss is counted; two interfaces go into one pcapng, each packet with its
// interface; redirect mode warns about an interface the host uses. Needs
// root; skips with the reason otherwise.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "frames.h"
#include "netns_test.h"

using namespace xcap::test;

namespace {

// A TCP receiver and sender in Python (a test host needs nothing else):
// `serve ADDR PORT` prints "listening", then the bytes it received once the
// peer closes; `send ADDR PORT BYTES` sends that many and closes.
constexpr const char* tcp_py = R"(
import socket, sys
if sys.argv[1] == 'serve':
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((sys.argv[2], int(sys.argv[3]))); s.listen(1)
    print('listening', flush=True)
    c, _ = s.accept(); n = 0
    while True:
        b = c.recv(1 << 20)
        if not b: break
        n += len(b)
    print(n, flush=True)
else:
    c = socket.create_connection((sys.argv[2], int(sys.argv[3])))
    c.sendall(bytes(range(256)) * (int(sys.argv[4]) // 256)); c.close()
)";

std::string bytes_key(const file_packet& p) {
    return std::string(p.data.begin(), p.data.end()) + "/" + std::to_string(p.len);
}

class Tap : public netns_test {
protected:
    void prepare() override {
        if (!have_tool("ping") || !have_tool("python3")) {
            GTEST_SKIP() << "needs ping (iputils-ping) and python3";
        }
        std::ofstream(path("tcp.py")) << tcp_py;
    }

    // A ping from the sender's side; its output.
    shell_result ping(int count, const std::string& interval = "0.05") {
        return sh("ip netns exec " + net->sender_ns() + " ping -n -q -c " + std::to_string(count) + " -i " + interval +
                  " -W 2 198.18.0.2");
    }

    // A TCP transfer of `bytes` into the receiver's namespace; what the
    // receiving socket got.
    uint64_t tcp_transfer(uint64_t bytes) {
        child server(net->in_receiver({"python3", path("tcp.py"), "serve", "198.18.0.2", "5001"}), path("srv.out"),
                     path("srv.err"));
        EXPECT_TRUE(wait_for_text(path("srv.out"), "listening", 20)) << read_text(path("srv.err"));
        child client(net->in_sender({"python3", path("tcp.py"), "send", "198.18.0.2", "5001", std::to_string(bytes)}),
                     path("cli.out"), path("cli.err"));
        EXPECT_EQ(client.wait(60), 0) << read_text(path("cli.err"));
        EXPECT_EQ(server.wait(60), 0) << read_text(path("srv.err"));
        std::istringstream out(read_text(path("srv.out")));
        std::string word;
        uint64_t got = 0;
        while (out >> word) {
            if (word != "listening") {
                got = std::stoull(word);
            }
        }
        return got;
    }
};

}  // namespace

// The host keeps working under --tap: a 4 MB TCP transfer (a burst of
// thousands of frames at veth speed, into the default ring) and a ping
// complete, the stack counts every packet, and the file holds each packet
// that reached the interface byte for byte: the same packets tcpdump,
// capturing beside xcap on the same interface, saw arrive.
TEST_F(Tap, HostTrafficGoesOnAndTheFileHoldsEveryPacket) {
    if (!have_tool("tcpdump")) {
        GTEST_SKIP() << "tcpdump is not installed";
    }
    // Immediate mode and -U: tcpdump's file has each packet soon after it
    // arrived (otherwise a packet waits in a ring block for up to a second,
    // and is lost when tcpdump is stopped before). A small snaplen, since in
    // immediate mode libpcap cuts its buffer into snaplen-sized slots.
    child td(net->in_receiver({"tcpdump", "-i", net->receiver_if(), "-Q", "in", "-B", "65536", "-s", "4096",
                               "--immediate-mode", "-U",
                               "-n", "-w", path("td.pcap")}),
             path("td.out"), path("td.err"));
    ASSERT_TRUE(wait_for_text(path("td.err"), "listening on", 20)) << read_text(path("td.err"));
    child x(xcap({"--tap", "-Q", "in", "-w", path("t.pcapng")}), path("x.out"), path("x.err"));
    ASSERT_TRUE(net->wait_receiver_xdp(true, 10)) << read_text(path("x.err"));
    const uint64_t rx_before = net->receiver_rx_packets();

    const uint64_t bytes = 4 << 20;
    EXPECT_EQ(tcp_transfer(bytes), bytes) << "the receiving socket got the whole transfer";
    auto p = ping(5);
    EXPECT_EQ(p.status, 0) << p.output;
    EXPECT_NE(p.output.find("5 received"), std::string::npos) << p.output;
    const uint64_t rx = net->receiver_rx_packets() - rx_before;

    x.signal(SIGINT);
    ASSERT_EQ(x.wait(30), 0) << read_text(path("x.err"));
    EXPECT_FALSE(net->receiver_has_xdp()) << "xcap left its program attached";
    std::string err = read_text(path("x.err"));
    // tcpdump has written what it saw (as many packets as xcap), or gives up after a while.
    for (int i = 0; i < 500 && read_capture(path("td.pcap")).size() < number_in(err, "([0-9]+) packets? captured");
         ++i) {
        usleep(20'000);
    }
    td.signal(SIGINT);
    ASSERT_EQ(td.wait(30), 0) << read_text(path("td.err"));

    EXPECT_EQ(number_in(err, "([0-9]+) packets? dropped"), 0u) << err;
    const uint64_t seen = number_in(err, "XDP tap program: ([0-9]+) seen");
    const uint64_t captured = number_in(err, "([0-9]+) packets? captured");
    EXPECT_EQ(captured, seen) << err;
    // Every packet the program saw went on: the interface counted it for the stack.
    EXPECT_GE(rx, 2900u) << "a 4 MB transfer is about 2900 full frames";
    EXPECT_LE(rx, seen) << "the interface counted packets xcap did not see";
    EXPECT_LE(seen - rx, 5u) << "xcap saw packets the counters did not (only a few ARP frames may fall outside)";

    std::string error;
    auto ours = read_capture(path("t.pcapng"), &error);
    ASSERT_EQ(error, "");
    ASSERT_EQ(ours.size(), captured);
    auto theirs = read_capture(path("td.pcap"), &error);
    ASSERT_EQ(error, "");
    std::string td_err = read_text(path("td.err"));
    ASSERT_EQ(number_in(td_err, "([0-9]+) packets? dropped by kernel"), 0u)
        << "tcpdump lost packets itself; the comparison needs its whole view: " << td_err;
    // The same packets, byte for byte (tcpdump's file order is the stack's,
    // xcap's is the merge of the CPUs' rings: compare as multisets).
    std::multiset<std::string> a, b;
    for (const auto& r : ours) {
        ASSERT_EQ(r.caplen, r.len) << "nothing cut at the default snaplen";
        a.insert(bytes_key(r));
    }
    for (const auto& r : theirs) {
        b.insert(bytes_key(r));
    }
    EXPECT_EQ(a.size(), b.size());
    if (a != b) {
        std::string diff;
        for (const auto& r : ours) {
            if (!b.count(bytes_key(r))) {
                diff += " xcap-only:" + std::to_string(r.len);
            }
        }
        for (const auto& r : theirs) {
            if (!a.count(bytes_key(r))) {
                diff += " tcpdump-only:" + std::to_string(r.len);
            }
        }
        ADD_FAILURE() << "xcap's copies differ from what tcpdump saw arrive:" << diff;
    }
    size_t echo_requests = 0;
    for (const auto& r : ours) {
        // IPv4, ICMP, echo request.
        echo_requests += r.data.size() > 34 && r.data[12] == 0x08 && r.data[13] == 0x00 && r.data[23] == 1 &&
                         r.data[34] == 8;
    }
    EXPECT_EQ(echo_requests, 5u);
    for (size_t i = 1; i < ours.size(); ++i) {
        ASSERT_LE(ours[i - 1].ts_ns, ours[i].ts_ns) << "the CPUs' rings are merged in time order";
    }
}

// A filter under --tap: only matches are copied; what does not match (the
// ping) goes on to the stack, and so does everything that matched.
TEST_F(Tap, FilterCopiesOnlyMatchesAndEverythingPasses) {
    child x(xcap({"--tap", "-Q", "in", "-w", path("f.pcapng"), "tcp"}), path("x.out"), path("x.err"));
    ASSERT_TRUE(net->wait_receiver_xdp(true, 10)) << read_text(path("x.err"));
    const uint64_t bytes = 256 << 10;
    EXPECT_EQ(tcp_transfer(bytes), bytes);
    auto p = ping(5);
    EXPECT_NE(p.output.find("5 received"), std::string::npos) << p.output;
    x.signal(SIGINT);
    ASSERT_EQ(x.wait(30), 0) << read_text(path("x.err"));
    std::string err = read_text(path("x.err"));
    auto recs = read_capture(path("f.pcapng"));
    ASSERT_GT(recs.size(), 100u) << err;
    for (const auto& r : recs) {
        ASSERT_GT(r.data.size(), 23u);
        ASSERT_EQ(r.data[23], 6) << "only TCP was asked for";
    }
    EXPECT_GE(number_in(err, ", ([0-9]+) did not match"), 5u) << err;
    EXPECT_EQ(number_in(err, "([0-9]+) packets? captured"), recs.size());
}

// --tap puts the interface in promiscuous mode too, and kill -9 takes it
// back (the hold is a socket's); -p leaves it off.
TEST_F(Tap, PromiscuousWhileTappingAndNotAfterKill9) {
    ASSERT_EQ(net->receiver_promiscuity(), 0);
    {
        child x(xcap({"--tap", "-Q", "in", "-w", path("p.pcapng")}), path("p.out"), path("p.err"));
        ASSERT_TRUE(net->wait_receiver_xdp(true, 10)) << read_text(path("p.err"));
        EXPECT_EQ(net->receiver_promiscuity(), 1);
        x.signal(SIGKILL);
        ASSERT_EQ(x.wait(10), 128 + SIGKILL);
        EXPECT_EQ(net->receiver_promiscuity(), 0) << "promiscuous mode left on after kill -9";
    }
    ASSERT_TRUE(net->wait_receiver_xdp(false, 10));
    child x(xcap({"--tap", "-Q", "in", "--no-promiscuous-mode", "-w", path("n.pcapng")}), path("n.out"), path("n.err"));
    ASSERT_TRUE(net->wait_receiver_xdp(true, 10)) << read_text(path("n.err"));
    EXPECT_EQ(net->receiver_promiscuity(), 0);
    x.signal(SIGINT);
    ASSERT_EQ(x.wait(10), 0) << read_text(path("n.err"));
}

// Sparse traffic under --tap wakes the capture thread about ten times a
// second (its 100 ms latency bound), not at each packet nor at 2 ms naps:
// while it sleeps the program commits records without waking it until a
// megabyte has gathered. 40 packets over 2 s; the nap-and-poll writer slept
// several hundred times here.
TEST_F(Tap, SparseTrafficWakesTheWriterOnItsLatencyBound) {
    child x(xcap({"--tap", "-Q", "in", "-v", "-w", path("s.pcapng")}), path("x.out"), path("x.err"));
    ASSERT_TRUE(net->wait_receiver_xdp(true, 10)) << read_text(path("x.err"));
    auto p = ping(40, "0.05");
    EXPECT_NE(p.output.find("40 received"), std::string::npos) << p.output;
    x.signal(SIGINT);
    ASSERT_EQ(x.wait(30), 0) << read_text(path("x.err"));
    const std::string err = read_text(path("x.err"));
    EXPECT_GE(read_capture(path("s.pcapng")).size(), 40u) << err;
    EXPECT_LE(number_in(err, "slept ([0-9]+) times"), 60u) << err;
    EXPECT_GE(number_in(err, "slept ([0-9]+) times"), 1u) << err;
}

// A reader that stalls (a pipe nobody reads) and small rings: the rings fill,
// each packet they had no room for is counted (and carried by
// epb_dropcount), written + dropped = what the program saw, and the host's
// traffic is not touched meanwhile.
TEST_F(Tap, StalledReaderFillsTheRingsAndEveryLossIsCounted) {
    int p[2];
    ASSERT_EQ(pipe(p), 0);
    fcntl(p[1], F_SETPIPE_SZ, 4096);
    child x(xcap({"--tap", "-Q", "in", "-w", "-", "--format", "pcapng", "--ring-size", "64k"}), "", path("x.err"), -1, p[1]);
    close(p[1]);
    ASSERT_TRUE(net->wait_receiver_xdp(true, 10)) << read_text(path("x.err"));
    const uint64_t rx_before = net->receiver_rx_packets();
    child g(net->in_sender({MIXGEN_BIN, "-i", net->sender_if(), "-n", "3000", "--threads", "1"}), path("gen.out"),
            path("gen.err"));
    ASSERT_EQ(g.wait(60), 0) << read_text(path("gen.err"));
    // The rings are full and nobody reads: the stack still answers.
    auto pg = ping(10, "0.02");
    EXPECT_NE(pg.output.find("10 received"), std::string::npos) << pg.output;
    const uint64_t rx = net->receiver_rx_packets() - rx_before;

    child reader({"sh", "-c", "cat > " + quote(path("s.pcapng"))}, path("cat.out"), path("cat.err"), p[0]);
    close(p[0]);
    usleep(300'000);
    // A few more frames, after the reader came: they carry the drop count.
    child g2(net->in_sender({MIXGEN_BIN, "-i", net->sender_if(), "-n", "20", "--threads", "1", "--start", "10000"}),
             path("gen2.out"), path("gen2.err"));
    ASSERT_EQ(g2.wait(60), 0) << read_text(path("gen2.err"));
    usleep(300'000);
    x.signal(SIGINT);
    ASSERT_EQ(x.wait(30), 0) << read_text(path("x.err"));
    ASSERT_EQ(reader.wait(10), 0);

    std::string err = read_text(path("x.err"));
    const uint64_t seen = number_in(err, "XDP tap program: ([0-9]+) seen");
    const uint64_t full = number_in(err, "([0-9]+) not recorded \\(ring full\\)");
    const uint64_t written = number_in(err, "([0-9]+) packets? captured");
    ASSERT_GT(full, 0u) << "the test needs the rings to fill: " << err;
    EXPECT_EQ(number_in(err, "([0-9]+) packets? dropped: ring_full"), full) << err;
    EXPECT_EQ(written + full, seen) << err;
    EXPECT_GE(seen, rx + 20) << "every packet that reached the interface reached the program";
    auto recs = read_capture(path("s.pcapng"));
    EXPECT_EQ(recs.size(), written);
    if (have_tool("tshark")) {
        auto t = sh("tshark -r " + quote(path("s.pcapng")) + " -T fields -e frame.drop_count 2>/dev/null");
        ASSERT_EQ(t.status, 0) << t.output;
        uint64_t sum = 0;
        for (const auto& row : tshark_rows(t.output)) {
            sum += std::stoull(row);
        }
        EXPECT_EQ(sum, full) << "epb_dropcount carries every loss";
    }
}

// Two interfaces, -i twice (and -i a,b): one pcapng, an IDB per interface,
// each packet with its interface's id, in time order; in both modes. The
// receiving end of a second veth pair is moved next to the first (a move
// clears its addresses: the host does not use it).
class TwoInterfaces : public Tap, public ::testing::WithParamInterface<bool> {};

TEST_P(TwoInterfaces, OnePcapngEachPacketWithItsInterfaceInTimeOrder) {
    const bool tap = GetParam();
    veth_pair second(2);
    ASSERT_TRUE(second.ok()) << second.error();
    const std::string if2 = second.receiver_if();
    ASSERT_EQ(sh("ip -n " + second.receiver_ns() + " link set " + if2 + " netns " + net->receiver_ns() +
                 " && ip -n " + net->receiver_ns() + " link set " + if2 + " up")
                  .status,
              0);
    std::vector<std::string> args = {XCAP_BIN, "-i", net->receiver_if() + "," + if2, "-w", path("two.pcapng")};
    if (tap) {
        args.insert(args.end(), {"--tap", "-Q", "in"});
    }
    child x(net->in_receiver(args), path("x.out"), path("x.err"));
    ASSERT_TRUE(net->wait_receiver_xdp(true, 10)) << read_text(path("x.err"));
    ASSERT_TRUE(wait_for_text(path("x.err"), if2 + (tap ? ": " : " queue 1: "), 10)) << read_text(path("x.err"));
    const uint32_t n = 1000;
    child g1(net->in_sender({MIXGEN_BIN, "-i", net->sender_if(), "-n", std::to_string(n), "--threads", "2"}),
             path("g1.out"), path("g1.err"));
    child g2(second.in_sender({MIXGEN_BIN, "-i", second.sender_if(), "-n", std::to_string(n), "--threads", "2",
                               "--start", "100000"}),
             path("g2.out"), path("g2.err"));
    ASSERT_EQ(g1.wait(60), 0) << read_text(path("g1.err"));
    ASSERT_EQ(g2.wait(60), 0) << read_text(path("g2.err"));
    usleep(300'000);
    x.signal(SIGINT);
    ASSERT_EQ(x.wait(30), 0) << read_text(path("x.err"));
    std::string err = read_text(path("x.err"));

    std::string error;
    auto recs = read_capture(path("two.pcapng"), &error);
    ASSERT_EQ(error, "");
    auto ids = sh("tshark -r " + quote(path("two.pcapng")) +
                  " -T fields -E separator=, -e frame.interface_id -e frame.interface_name 2>/dev/null");
    ASSERT_EQ(ids.status, 0) << ids.output;
    std::vector<std::pair<unsigned, std::string>> rows;
    for (const auto& row : tshark_rows(ids.output)) {
        size_t comma = row.find(',');
        if (comma != std::string::npos) {
            rows.emplace_back(unsigned(std::stoul(row.substr(0, comma))), row.substr(comma + 1));
        }
    }
    ASSERT_EQ(rows.size(), recs.size());
    std::map<unsigned, std::set<uint32_t>> seqs;
    for (size_t i = 0; i < recs.size(); ++i) {
        auto seq = frame_seq(recs[i].data.data(), recs[i].caplen);
        if (!seq) {
            continue;  // not a test frame (none expected: the namespaces are quiet)
        }
        const unsigned want = *seq >= 100000 ? 1 : 0;
        ASSERT_EQ(rows[i].first, want) << "frame " << *seq << " came in on interface " << want;
        ASSERT_EQ(rows[i].second, want ? if2 : net->receiver_if());
        auto expect = build_frame(*seq);
        ASSERT_TRUE(std::equal(recs[i].data.begin(), recs[i].data.end(), expect.begin(), expect.end()))
            << "frame " << *seq;
        ASSERT_TRUE(seqs[want].insert(*seq).second) << "frame " << *seq << " twice";
        if (i > 0) {
            ASSERT_LE(recs[i - 1].ts_ns, recs[i].ts_ns) << "merged in time order at record " << i;
        }
    }
    EXPECT_EQ(seqs[0].size(), n) << err;
    EXPECT_EQ(seqs[1].size(), n) << err;
    // Per interface in the summary.
    EXPECT_EQ(number_in(err, net->receiver_if() + ": ([0-9]+) received"), n) << err;
    EXPECT_EQ(number_in(err, if2 + ": ([0-9]+) received"), n) << err;
    EXPECT_NE(err.find(if2 + " queue 1: "), std::string::npos) << err;
    // Redirect mode warns about the interface the host uses, and only that one.
    const std::string warning = "warning: " + net->receiver_if() + " has address 198.18.0.2";
    EXPECT_EQ(err.find(warning) != std::string::npos, !tap) << err;
    EXPECT_EQ(err.find("warning: " + if2), std::string::npos) << err;
    if (!tap) {
        EXPECT_NE(err.find("--tap"), std::string::npos) << err;
    }
}

INSTANTIATE_TEST_SUITE_P(Modes, TwoInterfaces, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "tap" : "redirect"; });

// Bad combinations: one line, exit 2, nothing attached.
TEST_F(Tap, ClassicPcapRefusesTwoInterfacesAndTapRefusesSocketOptions) {
    struct refusal {
        std::vector<std::string> args;
        std::string needle;
    };
    const std::vector<refusal> cases = {
        {{"-i", net->receiver_if(), "-i", "lo", "-w", path("x.pcap")}, "classic pcap cannot say which interface"},
        {{"-i", net->receiver_if() + ",lo", "-w", path("x.pcap")}, "classic pcap cannot say which interface"},
        {{"-i", net->receiver_if(), "--tap", "--queues", "0", "-w", path("x.pcapng")}, "--queues does not apply to --tap"},
        {{"-i", net->receiver_if(), "-i", net->receiver_if(), "-w", path("x.pcapng")}, "interface named twice"},
        {{"-i", net->receiver_if(), "--tap", "--ring-size", "1", "-w", path("x.pcapng")}, "out of range"},
    };
    for (const auto& c : cases) {
        std::vector<std::string> argv = {XCAP_BIN};
        argv.insert(argv.end(), c.args.begin(), c.args.end());
        child r(net->in_receiver(argv), path("bad.out"), path("bad.err"));
        EXPECT_EQ(r.wait(20), 2);
        std::string err = read_text(path("bad.err"));
        EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
        EXPECT_NE(err.find(c.needle), std::string::npos) << err;
        EXPECT_FALSE(net->receiver_has_xdp());
    }
}
