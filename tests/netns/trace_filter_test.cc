// xcap trace with a filter expression: on the --hook path and with
// fentry/fexit (at entry, or at exit with --at exit), checked against
// tcpdump's reading of the same expression; and a bad expression refused
// before anything is loaded. See trace_support.h for the set-up the trace
// tests share.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "frames.h"
#include "pcap_file.h"
#include "trace_support.h"

using namespace xcap::test;

namespace {

// A frame as the tests' program leaves it: any IPv4/UDP frame (header
// length 20) whose first payload byte is 'r' gets 'R' (xdp_actions.bpf.c).
std::vector<uint8_t> as_left(std::vector<uint8_t> f) {
    if (f.size() >= 14 + 20 + 8 + 1 && f[12] == 0x08 && f[13] == 0x00 && (f[14] & 0x0f) == 5 && f[14 + 9] == 17 &&
        f[14 + 20 + 8] == 'r') {
        f[14 + 20 + 8] = 'R';
    }
    return f;
}

// The packets of capture file `in` that `tcpdump -r in EXPR` selects
// (written through `scratch`); a test failure when tcpdump fails.
std::vector<std::vector<uint8_t>> tcpdump_selects(const std::string& in, const std::string& expr,
                                                  const std::string& scratch) {
    auto r = sh("tcpdump -r " + quote(in) + " -w " + quote(scratch) + " " + quote(expr) + " 2>&1");
    EXPECT_EQ(r.status, 0) << r.output;
    std::vector<std::vector<uint8_t>> out;
    std::string error;
    for (auto& p : read_capture(scratch, &error)) {
        out.push_back(std::move(p.data));
    }
    EXPECT_EQ(error, "");
    return out;
}

}  // namespace

// --hook with a filter expression: the file holds exactly the packets, as
// the program left them, that tcpdump -r selects with the same expression
// from everything that was sent (test frames of many sizes, and the mixed
// traffic: TCP, ICMP, ARP, IPv6, VLAN), and tcpdump -r of the file itself
// selects every record; the summary counts the rest as not matching; the
// file's interface carries the expression (if_filter).
TEST_F(Trace, HookFilterRecordsWhatTcpdumpSelects) {
    if (!have_tool("tcpdump")) {
        GTEST_SKIP() << "tcpdump is not installed";
    }
    bpffs_mount fs(path("bpffs"));
    ASSERT_TRUE(fs.ok) << "cannot mount a bpffs: " << std::strerror(errno);
    const std::string hook = fs.dir + "/hook";
    user_program prog(*net, hook);
    ASSERT_TRUE(prog.ok()) << prog.error();
    // The payload byte the program rewrote ('R'), so the filter must see the
    // packet as it left; then what only the mixed traffic has.
    const std::string expr =
        "(udp[8] = 0x52 and udp dst port 9001) or icmp or (tcp[tcpflags] & tcp-syn != 0) or (vlan and udp) or "
        "(ip6 and len > 600) or greater 1000";
    std::vector<std::vector<uint8_t>> sent;
    for (uint32_t i = 0; i < 240; ++i) {
        sent.push_back(test_frame(i, mac, 64 + (i * 53) % 1100));
        if (i % 4 == 0) {
            sent.push_back(build_frame(i / 4));
        }
    }
    {
        std::vector<std::string> args = {"--hook", hook, "-w", path("t.pcapng")};
        args.push_back(expr);
        child c = start_trace(args, false);
        frame_sender s(*net);
        const uint64_t before = prog.total_runs() + prog.others();
        for (const auto& f : sent) {
            ASSERT_TRUE(s.send(f)) << std::strerror(errno);
        }
        for (int i = 0; i < 600 && prog.total_runs() + prog.others() < before + sent.size(); ++i) {
            usleep(50'000);
        }
        ASSERT_GE(prog.total_runs() + prog.others(), before + sent.size()) << "the program did not see every frame";
        c.signal(SIGINT);
        ASSERT_EQ(c.wait(60), 0) << read_text(path("trace.err"));
    }
    std::vector<std::vector<uint8_t>> left;
    for (const auto& f : sent) {
        left.push_back(as_left(f));
    }
    write_pcap(path("sent.pcap"), as_records(left, 1'000'000'000));
    auto want = tcpdump_selects(path("sent.pcap"), expr, path("want.pcap"));
    ASSERT_GT(want.size(), 0u);
    ASSERT_LT(want.size(), sent.size());
    std::string error;
    auto recs = read_epbs(path("t.pcapng"), &error);
    ASSERT_EQ(error, "");
    std::vector<std::vector<uint8_t>> got;
    for (const auto& r : recs) {
        EXPECT_EQ(r.orig_len, r.data.size());
        got.push_back(r.data);
    }
    // Several queues (CPUs): compare as sets, not in order.
    std::sort(want.begin(), want.end());
    std::sort(got.begin(), got.end());
    EXPECT_EQ(got.size(), want.size());
    EXPECT_TRUE(got == want) << "the records are not the packets tcpdump selects";
    EXPECT_EQ(tcpdump_selects(path("t.pcapng"), expr, path("again.pcap")).size(), recs.size());
    const std::string err = read_text(path("trace.err"));
    const uint64_t seen = number_in(err, "([0-9]+) packets? seen");
    EXPECT_GE(seen, sent.size());
    EXPECT_EQ(number_in(err, "seen, ([0-9]+) did not match the filter"), seen - recs.size()) << err;
    EXPECT_EQ(number_in(err, "did not match the filter, the other ([0-9]+) recorded"), recs.size()) << err;
    EXPECT_NE(err.find("filter '" + expr + "'"), std::string::npos) << err;
    EXPECT_NE(read_text(path("t.pcapng")).find(expr), std::string::npos) << "if_filter";
    std::printf("%zu frames sent, %zu selected by tcpdump, %zu recorded, %llu seen\n", sent.size(), want.size(),
                recs.size(), (unsigned long long)seen);
}

// A bad expression: libpcap's message in one line, exit 2, nothing put into
// the hook and no file.
TEST_F(Trace, BadFilterExpressionExits2WithNothingLoaded) {
    bpffs_mount fs(path("bpffs"));
    ASSERT_TRUE(fs.ok) << "cannot mount a bpffs: " << std::strerror(errno);
    const std::string hook = fs.dir + "/hook";
    user_program prog(*net, hook);
    ASSERT_TRUE(prog.ok()) << prog.error();
    const int before = programs_named("xcap_");
    child c({XCAP_BIN, "trace", "--hook", hook, "-w", path("t.pcapng"), "udp", "port", "99999"}, path("o"), path("e"));
    EXPECT_EQ(c.wait(30), 2);
    expect_one_line(read_text(path("e")), "bad filter expression 'udp port 99999': illegal port number 99999 > 65535");
    EXPECT_EQ(prog.hook_slots_used(), 0);
    EXPECT_EQ(programs_named("xcap_"), before);
    EXPECT_FALSE(file_exists(path("t.pcapng")));
}

// With no program on the interface, a bad expression is still exit 2 in
// one line: before the tap fallback says anything or attaches.
TEST_F(Trace, BadFilterExpressionBeforeTheTapFallback) {
    child c(net->in_receiver({XCAP_BIN, "trace", "-i", net->receiver_if(), "-w", path("t.pcapng"), "udp", "port",
                              "99999"}),
            path("o"), path("e"));
    EXPECT_EQ(c.wait(30), 2);
    expect_one_line(read_text(path("e")), "bad filter expression 'udp port 99999'");
    EXPECT_FALSE(net->receiver_has_xdp());
    EXPECT_FALSE(file_exists(path("t.pcapng")));
}

// A filter expression with fentry/fexit: each matching packet at entry (as
// sent) and at exit (as the program left it), under one id; nothing else;
// the summary counts every other packet as not matching, and tcpdump -r of
// the file with the same expression selects every record.
TEST_F(TraceFentry, FilterRecordsMatchingPacketsAtEntryAndExit) {
    user_program prog(*net, "");
    ASSERT_TRUE(prog.ok()) << prog.error();
    const uint32_t n = 300;
    const std::string expr = "udp dst port 9001 or udp dst port 9003";
    ASSERT_EQ(trace_while_sending({"-i", net->receiver_if(), "-w", path("t.pcapng"), expr}, true, prog, n), 0)
        << read_text(path("trace.err"));
    std::string error;
    auto recs = read_epbs(path("t.pcapng"), &error);
    ASSERT_EQ(error, "");
    const std::string name = "'xdp_actions' (id " + std::to_string(prog.id()) + ")";
    std::vector<int> entries(n, 0), exits(n, 0);
    std::map<uint64_t, std::vector<const epb*>> by_id;
    for (const auto& r : recs) {
        const int64_t i = frame_number(r.data);
        ASSERT_GE(i, 0) << "a record of a packet that does not match: " << r.comment;
        ASSERT_LT(i, int64_t(n));
        EXPECT_TRUE(i % 6 == 1 || i % 6 == 3) << "frame " << i << " does not match";
        by_id[r.packet_id].push_back(&r);
        if (r.comment == "entry " + name) {
            ++entries[size_t(i)];
            EXPECT_EQ(r.data, test_frame(uint32_t(i), mac)) << "entry of frame " << i;
        } else {
            ++exits[size_t(i)];
            EXPECT_EQ(r.comment, "exit " + name);
            EXPECT_EQ(int(r.verdict), expected_action(uint32_t(i)));
            EXPECT_EQ(r.data, rewritten(test_frame(uint32_t(i), mac))) << "exit of frame " << i;
        }
    }
    uint32_t matching = 0;
    for (uint32_t i = 0; i < n; ++i) {
        const bool match = i % 6 == 1 || i % 6 == 3;
        matching += match;
        EXPECT_EQ(entries[i], match ? 1 : 0) << "frame " << i;
        EXPECT_EQ(exits[i], match ? 1 : 0) << "frame " << i;
    }
    EXPECT_EQ(recs.size(), 2u * matching);
    EXPECT_EQ(by_id.size(), matching);
    for (const auto& [id, pair] : by_id) {
        EXPECT_EQ(pair.size(), 2u) << "id " << id;
    }
    const std::string err = read_text(path("trace.err"));
    const uint64_t seen = number_in(err, "([0-9]+) packets? seen");
    EXPECT_EQ(seen, n + prog.others()) << err;
    EXPECT_EQ(number_in(err, "seen, ([0-9]+) did not match the filter"), seen - matching) << err;
    EXPECT_EQ(number_in(err, "the other ([0-9]+) each recorded at entry and exit"), matching) << err;
    EXPECT_NE(err.find("0 records lost: ring buffer full 0"), std::string::npos) << err;
    // The program's actions are still counted for every packet it ran for.
    uint64_t actions_total = 0;
    for (const auto& [a, count] : summary_actions(err, name)) {
        actions_total += count;
    }
    EXPECT_EQ(actions_total, seen);
    if (have_tool("tcpdump")) {
        EXPECT_EQ(tcpdump_selects(path("t.pcapng"), expr, path("again.pcap")).size(), recs.size());
    }
}

// --at exit: the filter runs on the packet as the program leaves it. The
// payload byte it matches ('R') exists only after the program's rewrite.
TEST_F(TraceFentry, FilterAtExitSeesThePacketAsItLeaves) {
    user_program prog(*net, "");
    ASSERT_TRUE(prog.ok()) << prog.error();
    const uint32_t n = 60;
    const int status = trace_while_sending(
        {"-i", net->receiver_if(), "-w", path("t.pcapng"), "--at", "exit", "udp[8] = 0x52"}, true, prog, n);
    ASSERT_EQ(status, 0) << read_text(path("trace.err"));
    std::string error;
    auto recs = read_epbs(path("t.pcapng"), &error);
    ASSERT_EQ(error, "");
    std::vector<int> seen_frames(n, 0);
    for (const auto& r : recs) {
        const int64_t i = frame_number(r.data);
        ASSERT_GE(i, 0);
        ASSERT_LT(i, int64_t(n));
        ++seen_frames[size_t(i)];
        EXPECT_EQ(i % 2, 1) << "only the frames the program rewrote";
        EXPECT_TRUE(r.has_verdict);
        EXPECT_EQ(int(r.verdict), expected_action(uint32_t(i)));
        EXPECT_EQ(r.data, rewritten(test_frame(uint32_t(i), mac)));
    }
    for (uint32_t i = 0; i < n; ++i) {
        EXPECT_EQ(seen_frames[i], int(i % 2)) << "frame " << i;
    }
    const std::string err = read_text(path("trace.err"));
    EXPECT_EQ(number_in(err, "the other ([0-9]+) recorded at exit"), n / 2) << err;
}
