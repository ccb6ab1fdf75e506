// What a real NIC hands beside the frame, and what --tap sees leave, end to
// end on veth in throwaway namespaces (Linux 6.8+ for the VLAN tag kfunc,
// 6.6+ for tcx; each test skips with the reason where the kernel lacks it):
// - VLAN tags carried out of band (a tc program on the sender pushes tag 100
//   into the skb's metadata, as rx-vlan-offload delivers it) are put back in
//   the file in both modes, as in tcpdump's file of the same frames, and a
//   filter `vlan 100 and icmp` sees them;
// - --tap records both directions, each marked in pcapng's epb_flags, in
//   time order, as tcpdump does, and puts back the tag a VLAN device left
//   beside the frames it sends;
// - -J lists the time stamp types, -j refuses an unknown one, and
//   -j adapter_unsynced counts the packets veth gives no stamp for.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/utsname.h>

#include <set>
#include <sstream>
#include <tuple>

#include "netns_test.h"

using namespace xcap::test;

namespace {

class Nic : public netns_test {
protected:
    void prepare() override {
        if (!have_tool("ping") || !have_tool("tcpdump") || !have_tool("tshark") || !have_tool("tc")) {
            GTEST_SKIP() << "needs ping, tcpdump, tshark and tc";
        }
    }

    // Tag 100 on the sender's ICMP frames (tests/netns/vlan_push.bpf.c).
    void push_vlan() {
        auto r = sh("ip netns exec " + net->sender_ns() + " tc qdisc add dev " + net->sender_if() +
                    " clsact && ip netns exec " + net->sender_ns() + " tc filter add dev " + net->sender_if() +
                    " egress bpf da obj " VLAN_PUSH_OBJ " sec tc");
        ASSERT_EQ(r.status, 0) << r.output;
    }

    shell_result ping(int count) {
        return sh("ip netns exec " + net->sender_ns() + " ping -n -q -c " + std::to_string(count) +
                  " -i 0.1 -W 1 198.18.0.2");
    }

    // tshark's fields of every frame of `file`, one line per frame.
    std::vector<std::string> fields(const std::string& file, const std::string& filter,
                                    const std::vector<std::string>& names) {
        std::string cmd = "tshark -n -r " + file + " -Y '" + filter + "' -T fields -E separator=,";
        for (const auto& n : names) {
            cmd += " -e " + n;
        }
        auto r = sh("{ " + cmd + "; } 2>/dev/null");
        std::vector<std::string> lines;
        std::istringstream in(r.output);
        for (std::string l; std::getline(in, l);) {
            // tshark warns about running as root on the same stream.
            if (!l.empty() && l.find("Running as user") == std::string::npos) {
                lines.push_back(l);
            }
        }
        return lines;
    }

    // tcpdump's view of 5 echo requests tagged out of band: vlan 100 on
    // each (libpcap puts the tag AF_PACKET reports back into the frame).
    void tcpdump_sees_tags() {
        child td(net->in_receiver({"tcpdump", "-i", net->receiver_if(), "-Q", "in", "--immediate-mode", "-U", "-n",
                                   "-w", path("td.pcap")}),
                 path("td.out"), path("td.err"));
        ASSERT_TRUE(wait_for_text(path("td.err"), "listening on", 20)) << read_text(path("td.err"));
        usleep(500'000);  // tcpdump says it listens a moment before its socket takes packets
        ping(5);
        usleep(300'000);
        td.signal(SIGINT);
        ASSERT_EQ(td.wait(30), 0) << read_text(path("td.err"));
        EXPECT_EQ(fields(path("td.pcap"), "icmp.type == 8", {"vlan.id"}), std::vector<std::string>(5, "100"));
    }

    // Captures the 5 tagged echo requests with xcap (`args`): the file has
    // them as tcpdump's has, each with its tag, and the summary counts them.
    void tagged_requests_in_file(const std::vector<std::string>& args, const std::string& file) {
        push_vlan();
        tcpdump_sees_tags();
        child x = start_xcap(args);
        ping(5);
        usleep(300'000);
        x.signal(SIGINT);
        ASSERT_EQ(x.wait(30), 0) << read_text(path("xcap.err"));
        const std::string err = read_text(path("xcap.err"));
        EXPECT_EQ(number_in(err, "([0-9]+) VLAN tags put back"), 5u) << err;
        EXPECT_EQ(fields(file, "icmp.type == 8", {"vlan.id"}), std::vector<std::string>(5, "100")) << err;
        EXPECT_EQ(fields(file, "icmp.type == 8", {"frame.len"}), fields(path("td.pcap"), "icmp.type == 8", {"frame.len"}));
    }
};

bool has_vlan_kfunc() { return kernel_at_least(6, 8); }

}  // namespace

// Redirect mode: the 5 echo requests, tagged out of band, are in the file
// with `vlan 100`, as in tcpdump's file of the same frames.
TEST_F(Nic, RedirectPutsBackStrippedVlanTags) {
    if (!has_vlan_kfunc()) {
        GTEST_SKIP() << "bpf_xdp_metadata_rx_vlan_tag needs Linux 6.8";
    }
    tagged_requests_in_file({"-v", "-w", path("r.pcap")}, path("r.pcap"));
}

TEST_F(Nic, TapPutsBackStrippedVlanTags) {
    if (!has_vlan_kfunc()) {
        GTEST_SKIP() << "bpf_xdp_metadata_rx_vlan_tag needs Linux 6.8";
    }
    tagged_requests_in_file({"--tap", "-Q", "in", "-v", "-w", path("t.pcap")}, path("t.pcap"));
}

// The filter sees the tag: `vlan 100 and icmp` matches the 5 requests, and
// `icmp and not vlan` none of them (the tag is in the frame the filter reads).
TEST_F(Nic, FilterSeesRestoredVlanTag) {
    if (!has_vlan_kfunc()) {
        GTEST_SKIP() << "bpf_xdp_metadata_rx_vlan_tag needs Linux 6.8";
    }
    push_vlan();
    for (const std::string mode : {"redirect", "tap"}) {
        std::vector<std::string> args = {"-w", path(mode + ".pcap"), "vlan 100 and icmp"};
        if (mode == "tap") {
            args.insert(args.begin(), {"--tap", "-Q", "in"});
        }
        child x = start_xcap(args, mode);
        ping(5);
        usleep(300'000);
        x.signal(SIGINT);
        ASSERT_EQ(x.wait(30), 0) << read_text(path(mode + ".err"));
        ASSERT_TRUE(net->wait_receiver_xdp(false, 10));
        const auto ids = fields(path(mode + ".pcap"), "icmp.type == 8", {"vlan.id"});
        EXPECT_EQ(ids, std::vector<std::string>(5, "100")) << mode << ": " << read_text(path(mode + ".err"));
    }
}

// The tag goes back out of the frame the stack gets, on every path: the
// tap program's (copied, then taken out), a filter's rejection in both
// modes (xcap_untag). tcpdump, beside xcap after XDP, sees one tag per
// request, as without xcap: a tag left in the frame would show twice.
TEST_F(Nic, StackGetsTheFrameAsTheDriverGaveIt) {
    if (!has_vlan_kfunc()) {
        GTEST_SKIP() << "bpf_xdp_metadata_rx_vlan_tag needs Linux 6.8";
    }
    push_vlan();
    const std::vector<std::vector<std::string>> runs = {
        {"--tap", "-Q", "in", "-w", path("a.pcap")}, {"--tap", "-Q", "in", "-w", path("b.pcap"), "udp"},
        {"-w", path("c.pcap"), "udp"}};
    for (const auto& args : runs) {
        child x = start_xcap(args);
        tcpdump_sees_tags();
        x.signal(SIGINT);
        ASSERT_EQ(x.wait(30), 0) << read_text(path("xcap.err"));
        ASSERT_TRUE(net->wait_receiver_xdp(false, 10));
        EXPECT_EQ(fields(path("td.pcap"), "icmp.type == 8", {"vlan.id"}), std::vector<std::string>(5, "100"))
            << args.back();
        EXPECT_EQ(number_in(read_text(path("xcap.err")), "([0-9]+) VLAN tags put back"), 5u) << args.back();
    }
}

// --tap records the requests coming in and the replies going out, each
// with its direction in epb_flags (tshark's frame.packet_flags_direction:
// 1 inbound, 2 outbound), in time order.
TEST_F(Nic, TapRecordsBothDirections) {
    if (!kernel_at_least(6, 6)) {
        GTEST_SKIP() << "tcx needs Linux 6.6";
    }
    child x = start_xcap({"--tap", "-w", path("t.pcapng"), "icmp"});
    auto p = ping(5);
    EXPECT_NE(p.output.find("5 received"), std::string::npos) << p.output;
    usleep(300'000);
    x.signal(SIGINT);
    ASSERT_EQ(x.wait(30), 0) << read_text(path("xcap.err"));
    const auto lines = fields(path("t.pcapng"), "icmp", {"icmp.type", "frame.packet_flags_direction"});
    std::vector<std::string> want;
    for (int i = 0; i < 5; ++i) {
        want.push_back("8,0x00000001");
        want.push_back("0,0x00000002");
    }
    EXPECT_EQ(lines, want) << read_text(path("xcap.err"));
    // In time order: tshark's frame.time_delta is never negative.
    for (const auto& d : fields(path("t.pcapng"), "frame", {"frame.time_delta"})) {
        EXPECT_NE(d[0], '-') << d;
    }
    EXPECT_FALSE(net->receiver_has_xdp());
}

// -Q out: only the replies; -Q in: only the requests; redirect mode refuses
// -Q out (exit 2) in one line.
TEST_F(Nic, DirectionOption) {
    if (!kernel_at_least(6, 6)) {
        GTEST_SKIP() << "tcx needs Linux 6.6";
    }
    for (const std::string q : {"in", "out"}) {
        child x = start(xcap({"--tap", "-Q", q, "-w", path(q + ".pcapng"), "icmp"}), q,
                        q == "in" ? "packets go on" : "tcx egress");
        ping(3);
        usleep(300'000);
        x.signal(SIGINT);
        ASSERT_EQ(x.wait(30), 0) << read_text(path(q + ".err"));
        const auto types = fields(path(q + ".pcapng"), "icmp", {"icmp.type"});
        EXPECT_EQ(types, std::vector<std::string>(3, q == "in" ? "8" : "0")) << read_text(path(q + ".err"));
    }
    std::string err;
    EXPECT_EQ(run(xcap({"-Q", "out", "-w", path("r.pcap")}), err), 2) << err;
    EXPECT_NE(err.find("received packets only"), std::string::npos) << err;
}

// A VLAN device over the interface: veth inserts tags itself (its
// tx-vlan-offload is on, as on most NICs), so the replies reach the
// interface's egress untagged, with tag 100 beside them in the skb. --tap
// puts the tag back into its egress records as tcpdump -Q out does: the tag
// and the lengths agree with tcpdump's file of the same replies, unfiltered,
// with `vlan 100 and icmp`, and cut by -s 14 (half the tag) and -s 16. The
// filter sees the frame as it goes on the wire, as on receive, so `icmp`
// alone matches none of them (tcpdump's kernel filter runs before libpcap
// puts the tag back, and matches them).
// Needs VLAN devices: the guest lane's 6.12 has them, the host's kernel not.
TEST_F(Nic, TapEgressPutsBackTheTagOfAVlanDevice) {
    if (!kernel_at_least(6, 6)) {
        GTEST_SKIP() << "tcx needs Linux 6.6";
    }
    for (const auto& [ns, dev, addr] :
         {std::tuple{net->sender_ns(), net->sender_if(), "198.18.1.1"},
          std::tuple{net->receiver_ns(), net->receiver_if(), "198.18.1.2"}}) {
        const std::string in = "ip netns exec " + ns + " ";
        auto r = sh(in + "ip link add link " + dev + " name v100 type vlan id 100");
        if (r.status != 0 && r.output.find("Unknown device type") != std::string::npos) {
            GTEST_SKIP() << "this kernel has no VLAN devices (8021q): " << r.output;
        }
        ASSERT_EQ(r.status, 0) << r.output;
        r = sh(in + "ip addr add " + std::string(addr) + "/24 dev v100 && " + in + "ip link set v100 up");
        ASSERT_EQ(r.status, 0) << r.output;
    }
    const auto ping_vlan = [&] {
        return sh("ip netns exec " + net->sender_ns() + " ping -n -q -c 5 -i 0.1 -W 1 198.18.1.2");
    };
    // Each case: xcap's arguments after -w, and what its file holds of the
    // 5 replies (frames of 102 bytes with the tag) as vlan.id,frame.cap_len;
    // tcpdump, given the same, holds the same but where a filter is `icmp`.
    struct egress_case {
        std::vector<std::string> args;
        std::string each;  // "" for none of them
    };
    const std::vector<egress_case> cases = {{{}, "100,102"},
                                            {{"vlan 100 and icmp"}, "100,102"},
                                            {{"icmp"}, ""},
                                            {{"-s", "14"}, ",14"},  // the tag's first half
                                            {{"-s", "16"}, "100,16"}};
    for (size_t i = 0; i < cases.size(); ++i) {
        const egress_case& c = cases[i];
        const std::string n = std::to_string(i);
        std::string given;
        for (const auto& a : c.args) {
            given += (given.empty() ? "" : " ") + a;
        }
        SCOPED_TRACE("xcap and tcpdump given '" + given + "'");
        std::vector<std::string> td_args = {"tcpdump", "-i", net->receiver_if(), "-Q", "out", "--immediate-mode",
                                            "-U", "-n", "-w", path("td" + n + ".pcap")};
        std::vector<std::string> x_args = {"--tap", "-Q", "out", "-w", path("x" + n + ".pcapng")};
        td_args.insert(td_args.end(), c.args.begin(), c.args.end());
        x_args.insert(x_args.end(), c.args.begin(), c.args.end());
        child td(net->in_receiver(td_args), path("td" + n + ".out"), path("td" + n + ".err"));
        ASSERT_TRUE(wait_for_text(path("td" + n + ".err"), "listening on", 20)) << read_text(path("td" + n + ".err"));
        child x = start(xcap(x_args), "x" + n, "tcx egress");
        usleep(500'000);  // tcpdump says it listens a moment before its socket takes packets
        auto p = ping_vlan();
        EXPECT_NE(p.output.find("5 received"), std::string::npos) << p.output;
        usleep(300'000);
        x.signal(SIGINT);
        td.signal(SIGINT);
        ASSERT_EQ(x.wait(30), 0) << read_text(path("x" + n + ".err"));
        ASSERT_EQ(td.wait(30), 0) << read_text(path("td" + n + ".err"));
        const std::string err = read_text(path("x" + n + ".err"));
        const std::string replies = "eth.type == 0x8100 && frame.len == 102";
        const std::vector<std::string> f = {"vlan.id", "frame.cap_len"};
        const auto ours = fields(path("x" + n + ".pcapng"), replies, f);
        const auto theirs = fields(path("td" + n + ".pcap"), replies, f);
        EXPECT_EQ(ours, c.each.empty() ? std::vector<std::string>{} : std::vector<std::string>(5, c.each)) << err;
        if (c.each.empty()) {
            // Seen and not matched, not missed.
            EXPECT_GE(number_in(err, "([0-9]+) did not match"), 5u) << err;
            EXPECT_EQ(theirs, std::vector<std::string>(5, "100,102")) << "tcpdump's live filter matches them";
        } else {
            EXPECT_EQ(ours, theirs);
        }
    }
}

// The ids of the loaded programs named xcap_tap_out (any namespace).
std::set<std::string> egress_programs() {
    std::set<std::string> ids;
    std::istringstream in(sh("bpftool prog show name xcap_tap_out").output);
    for (std::string l; std::getline(in, l);) {
        if (const size_t colon = l.find(':'); colon != std::string::npos && colon > 0 && isdigit(l[0])) {
            ids.insert(l.substr(0, colon));
        }
    }
    return ids;
}

// kill -9: the tcx link goes with the process, and with it the program (no
// tc program left on the interface's egress).
TEST_F(Nic, EgressGoesAwayOnKill) {
    if (!kernel_at_least(6, 6)) {
        GTEST_SKIP() << "tcx needs Linux 6.6";
    }
    const auto before = egress_programs();
    child x = start(xcap({"--tap", "-w", path("t.pcapng")}), "xcap", "tcx egress");
    std::set<std::string> ours;
    for (const auto& id : egress_programs()) {
        if (!before.count(id)) {
            ours.insert(id);
        }
    }
    ASSERT_EQ(ours.size(), 1u) << "xcap's egress program is loaded while it runs";
    x.signal(SIGKILL);
    x.wait(10);
    for (int i = 0; i < 100 && egress_programs().count(*ours.begin()); ++i) {
        usleep(50'000);  // the kernel frees a program after an RCU grace period
    }
    EXPECT_EQ(egress_programs().count(*ours.begin()), 0u) << "the tcx link outlived xcap";
    EXPECT_TRUE(net->wait_receiver_xdp(false, 10));
}

// -J lists host, and adapter_unsynced where veth reports rx timestamps;
// -j refuses an unknown type (exit 2); -j adapter_unsynced on veth counts
// every packet as without a NIC stamp (veth gives none).
TEST_F(Nic, TimeStampTypes) {
    std::string err;
    ASSERT_EQ(run(xcap({"-J"}), err, 30, "J"), 0) << err;
    const std::string out = read_text(path("J.out"));
    EXPECT_NE(out.find("Time stamp types for " + net->receiver_if()), std::string::npos) << out;
    EXPECT_NE(out.find("  host (Host)"), std::string::npos) << out;
    EXPECT_EQ(run(xcap({"-j", "atomic", "-w", path("x.pcap")}), err), 2) << err;
    EXPECT_NE(err.find("-j"), std::string::npos) << err;
    if (out.find("adapter_unsynced") == std::string::npos) {
        // A kernel without XDP rx timestamps for veth (before 6.3): refused.
        EXPECT_EQ(run(xcap({"-j", "adapter_unsynced", "-w", path("x.pcap")}), err), 7) << err;
        EXPECT_NE(err.find("gives XDP no receive time stamps"), std::string::npos) << err;
        return;
    }
    child x = start_xcap({"--tap", "-Q", "in", "-j", "adapter_unsynced", "-w", path("t.pcap")});
    ping(3);
    usleep(300'000);
    x.signal(SIGINT);
    ASSERT_EQ(x.wait(30), 0) << read_text(path("xcap.err"));
    err = read_text(path("xcap.err"));
    // Every received packet (pings and ARP) without a stamp, each written with the kernel's time.
    const uint64_t captured = number_in(err, "([0-9]+) packets? captured");
    EXPECT_GE(captured, 3u) << err;
    EXPECT_EQ(number_in(err, "([0-9]+) without one \\(nic_time_missing"), captured) << err;
    EXPECT_EQ(number_in(err, "([0-9]+) packets with the NIC's time stamp"), 0u) << err;
}

// The fallbacks (the guest lane's 6.1): without the VLAN tag kfunc, both
// modes capture as before (the tag stays missing) and -v says why in one
// line per interface.
TEST_F(Nic, WithoutTheVlanKfuncOneVerboseLine) {
    if (has_vlan_kfunc()) {
        GTEST_SKIP() << "this kernel has bpf_xdp_metadata_rx_vlan_tag (the tests above use it)";
    }
    for (const std::string mode : {"redirect", "tap"}) {
        std::vector<std::string> args = {"-v", "-w", path(mode + ".pcap"), "icmp"};
        if (mode == "tap") {
            args.insert(args.begin(), {"--tap", "-Q", "in"});
        }
        child x = start_xcap(args, mode);
        ping(3);
        usleep(300'000);
        x.signal(SIGINT);
        ASSERT_EQ(x.wait(60), 0) << read_text(path(mode + ".err"));
        ASSERT_TRUE(net->wait_receiver_xdp(false, 10));
        const std::string err = read_text(path(mode + ".err"));
        const std::string line = "does not report VLAN tags to XDP";
        EXPECT_NE(err.find(line), std::string::npos) << err;
        EXPECT_EQ(err.find(line), err.rfind(line)) << "one line: " << err;
        EXPECT_EQ(number_in(err, "([0-9]+) packets? captured"), 3u) << err;
    }
}

// Without tcx (before 6.6): --tap says so in one line and records the
// received packets, each marked inbound; -Q out alone is refused (exit 7).
TEST_F(Nic, WithoutTcxTapCapturesReceivedOnly) {
    if (kernel_at_least(6, 6)) {
        GTEST_SKIP() << "this kernel has tcx (the tests above use it)";
    }
    child x = start(xcap({"--tap", "-w", path("t.pcapng"), "icmp"}), "xcap", "packets go on", 30);
    auto p = ping(3);
    EXPECT_NE(p.output.find("3 received"), std::string::npos) << p.output;
    usleep(300'000);
    x.signal(SIGINT);
    ASSERT_EQ(x.wait(60), 0) << read_text(path("xcap.err"));
    const std::string err = read_text(path("xcap.err"));
    EXPECT_NE(err.find("only received packets are captured"), std::string::npos) << err;
    EXPECT_EQ(fields(path("t.pcapng"), "icmp", {"icmp.type", "frame.packet_flags_direction"}),
              std::vector<std::string>(3, "8,0x00000001"))
        << err;
    std::string out_err;
    EXPECT_EQ(run(xcap({"--tap", "-Q", "out", "-w", path("o.pcapng")}), out_err, 60), 7) << out_err;
    EXPECT_NE(out_err.find("cannot attach to the egress"), std::string::npos) << out_err;
    EXPECT_FALSE(net->receiver_has_xdp()) << "a refusal leaves no program behind";
}
