// xcap trace --hook: xcap's programs in the xdpcap hook of the tests' own
// XDP program (its exit, by action), on every kernel that runs XDP. See
// trace_support.h for the set-up the trace tests share.
#include <bpf/bpf.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "trace_support.h"
#include "xdp_actions.skel.h"

using namespace xcap::test;

// --hook: every frame is in the file once, as the program left it (one
// byte rewritten), with its action as epb_verdict; the summary's histogram
// is the program's own count; the slots are empty afterwards.
TEST_F(Trace, HookRecordsEveryPacketWithItsAction) {
    bpffs_mount fs(path("bpffs"));
    ASSERT_TRUE(fs.ok) << "cannot mount a bpffs: " << std::strerror(errno);
    const std::string hook = fs.dir + "/hook";
    user_program prog(*net, hook);
    ASSERT_TRUE(prog.ok()) << prog.error();
    const uint32_t n = 300;
    {
        child c = start_trace({"--hook", hook, "-w", path("t.pcapng")}, false);
        EXPECT_EQ(prog.hook_slots_used(), actions);
        send_frames(prog, n);
        c.signal(SIGINT);
        ASSERT_EQ(c.wait(60), 0) << read_text(path("trace.err"));
    }
    EXPECT_EQ(prog.hook_slots_used(), 0) << "the slots must be empty after xcap exits";
    std::string error;
    auto recs = read_epbs(path("t.pcapng"), &error);
    ASSERT_EQ(error, "");
    ASSERT_EQ(recs.size(), n + prog.others());
    std::vector<int> seen(n, 0);
    std::map<int, uint64_t> by_action;
    for (const auto& r : recs) {
        int64_t i = frame_number(r.data);
        if (i < 0) {
            EXPECT_EQ(int(r.verdict), 2) << "the program passes what is not the tests' UDP";
            continue;
        }
        ASSERT_LT(i, int64_t(n));
        ++seen[size_t(i)];
        EXPECT_EQ(r.data, rewritten(test_frame(uint32_t(i), mac))) << "frame " << i;
        EXPECT_TRUE(r.has_verdict);
        EXPECT_EQ(r.verdict_type, 2) << "eBPF XDP verdict";
        EXPECT_EQ(int(r.verdict), expected_action(uint32_t(i))) << "frame " << i;
        EXPECT_EQ(r.comment, "exit hook " + hook);
        by_action[int(r.verdict)]++;
    }
    for (uint32_t i = 0; i < n; ++i) {
        EXPECT_EQ(seen[i], 1) << "frame " << i;
    }
    std::string err = read_text(path("trace.err"));
    auto summary = summary_actions(err, "hook " + hook);
    auto runs = prog.runs();
    for (int a = 0; a < actions; ++a) {
        EXPECT_EQ(summary[a], by_action[a] + (a == 2 ? prog.others() : 0)) << action_names[a];
        EXPECT_EQ(runs[size_t(a)], by_action[a]) << action_names[a];
    }
    EXPECT_NE(err.find(std::to_string(recs.size()) + " records written"), std::string::npos) << err;
    EXPECT_NE(err.find("0 records lost: ring buffer full 0"), std::string::npos) << err;
    if (have_tool("tshark")) {
        // An independent reader agrees on the verdicts.
        auto t = sh("tshark -r " + quote(path("t.pcapng")) + " -T fields -e frame.verdict.ebpf_xdp 2>/dev/null");
        ASSERT_EQ(t.status, 0) << t.output;
        size_t k = 0;
        for (const auto& line : tshark_rows(t.output)) {
            if (k == recs.size()) {
                break;
            }
            EXPECT_EQ(line, std::to_string(recs[k].verdict)) << "record " << k;
            ++k;
        }
        EXPECT_EQ(k, recs.size());
    }
}

// kill -9: the guardian empties the slots; the user's program keeps
// running (its actions, straight through the empty slots).
TEST_F(Trace, HookKill9LeavesTheSlotsEmpty) {
    bpffs_mount fs(path("bpffs"));
    ASSERT_TRUE(fs.ok) << "cannot mount a bpffs: " << std::strerror(errno);
    const std::string hook = fs.dir + "/hook";
    user_program prog(*net, hook);
    ASSERT_TRUE(prog.ok()) << prog.error();
    child c = start_trace({"--hook", hook, "-w", path("t.pcapng")}, false);
    ASSERT_EQ(prog.hook_slots_used(), actions);
    send_frames(prog, 30);
    c.signal(SIGKILL);
    c.wait(30);
    for (int i = 0; i < 200 && prog.hook_slots_used() > 0; ++i) {
        usleep(50'000);
    }
    EXPECT_EQ(prog.hook_slots_used(), 0) << "the guardian did not empty the slots";
    for (int i = 0; i < 200 && programs_named("xcap_hook_") > 0; ++i) {
        usleep(50'000);
    }
    EXPECT_EQ(programs_named("xcap_hook_"), 0);
    send_frames(prog, 30);
    EXPECT_EQ(prog.total_runs(), 60u);
}

// The guardian killed along with xcap (kill -9 of both): xcap's programs
// stay in the slots; the next xcap trace on the hook sees that nobody reads
// their ring, empties them with a line, and traces.
TEST_F(Trace, HookLeftoversOfAKilledXcapAreEmptiedOnTheNextStart) {
    bpffs_mount fs(path("bpffs"));
    ASSERT_TRUE(fs.ok) << "cannot mount a bpffs: " << std::strerror(errno);
    const std::string hook = fs.dir + "/hook";
    user_program prog(*net, hook);
    ASSERT_TRUE(prog.ok()) << prog.error();
    {
        child c = start_trace({"--hook", hook, "-w", path("t1.pcapng")}, false, "first");
        std::string children = read_text("/proc/" + std::to_string(c.pid()) + "/task/" + std::to_string(c.pid()) +
                                         "/children");
        ASSERT_FALSE(children.empty()) << "no guardian process";
        pid_t guardian = pid_t(std::stol(children));
        ASSERT_NE(read_text("/proc/" + std::to_string(guardian) + "/comm").find("xcap-hook-guard"), std::string::npos);
        ASSERT_EQ(kill(guardian, SIGKILL), 0);
        for (int i = 0; i < 200 && file_exists("/proc/" + std::to_string(guardian) + "/comm") &&
                        read_text("/proc/" + std::to_string(guardian) + "/stat").find(") Z") == std::string::npos;
             ++i) {
            usleep(50'000);
        }
        c.signal(SIGKILL);
        c.wait(30);
    }
    ASSERT_EQ(prog.hook_slots_used(), actions) << "with the guardian gone too, the slots keep xcap's programs";
    const uint32_t n = 12;
    ASSERT_EQ(trace_while_sending({"--hook", hook, "-w", path("t2.pcapng")}, false, prog, n, "second"), 0)
        << read_text(path("second.err"));
    std::string err = read_text(path("second.err"));
    EXPECT_NE(err.find("left by an xcap trace that is gone; emptying it"), std::string::npos) << err;
    EXPECT_EQ(prog.hook_slots_used(), 0);
    std::string error;
    EXPECT_EQ(read_epbs(path("t2.pcapng"), &error).size(), n + prog.others());
}

// A slot held by someone else is refused (exit 6) unless --force.
TEST_F(Trace, HookSlotOfAnotherProgramIsRefused) {
    bpffs_mount fs(path("bpffs"));
    ASSERT_TRUE(fs.ok) << "cannot mount a bpffs: " << std::strerror(errno);
    const std::string hook = fs.dir + "/hook";
    user_program prog(*net, hook);
    ASSERT_TRUE(prog.ok()) << prog.error();
    // Any XDP program will do: another instance of the tests' own, put into
    // slot 1 by hand.
    xdp_actions_bpf* extra = xdp_actions_bpf__open_and_load();
    ASSERT_NE(extra, nullptr);
    uint32_t slot = 1;
    int pfd = bpf_program__fd(extra->progs.xdp_actions);
    ASSERT_EQ(bpf_map_update_elem(prog.hook_fd(), &slot, &pfd, BPF_ANY), 0);
    child c({XCAP_BIN, "trace", "--hook", hook, "-w", path("t.pcapng")}, path("o"), path("e"));
    EXPECT_EQ(c.wait(30), 6);
    expect_one_line(read_text(path("e")), "slot 1 (XDP_DROP) already holds program 'xdp_actions'");
    EXPECT_EQ(prog.hook_slots_used(), 1);
    bpf_map_delete_elem(prog.hook_fd(), &slot);
    xdp_actions_bpf__destroy(extra);
}

// A ring too small for a burst: records are lost and counted, never
// silently: written + lost = offered, and the file holds what was written.
TEST_F(Trace, HookTinyRingCountsEveryLoss) {
    bpffs_mount fs(path("bpffs"));
    ASSERT_TRUE(fs.ok) << "cannot mount a bpffs: " << std::strerror(errno);
    const std::string hook = fs.dir + "/hook";
    user_program prog(*net, hook);
    ASSERT_TRUE(prog.ok()) << prog.error();
    const uint32_t n = 3000;
    {
        child c = start_trace({"--hook", hook, "-w", path("t.pcapng"), "--ring-size", "4k"}, false);
        send_frames(prog, n, 1000);
        // A few frames after the burst, in rounds: the writer attributes the
        // losses it has seen to the next record, so one must come after it
        // has looked (it looks when it goes idle), even on a loaded machine.
        for (int round = 0; round < 3; ++round) {
            usleep(300'000);
            send_frames(prog, 1, 1000);
        }
        c.signal(SIGINT);
        ASSERT_EQ(c.wait(60), 0) << read_text(path("trace.err"));
    }
    std::string err = read_text(path("trace.err"));
    std::string error;
    auto recs = read_epbs(path("t.pcapng"), &error);
    ASSERT_EQ(error, "");
    const uint64_t written = number_in(err, "([0-9]+) records? written");
    const uint64_t offered = number_in(err, "([0-9]+) records? offered");
    const uint64_t lost = number_in(err, "lost: ring buffer full ([0-9]+)");
    EXPECT_EQ(offered, n + 3 + prog.others());
    EXPECT_GT(lost, 0u) << "a 4 KiB ring cannot hold a burst of " << n << " 1000-byte frames:\n" << err;
    EXPECT_EQ(written + lost, offered) << err;
    EXPECT_EQ(recs.size(), written);
    // The losses reach the file as epb_dropcount on the record after them
    // (those after the last record cannot).
    uint64_t dropcounts = 0;
    for (const auto& r : recs) {
        dropcounts += r.dropcount;
    }
    EXPECT_GT(dropcounts, 0u);
    EXPECT_LE(dropcounts, lost);
    // Every record that is there is a whole frame with its action.
    for (const auto& r : recs) {
        int64_t i = frame_number(r.data);
        if (i < 0) {
            continue;  // not the tests' UDP (see others())
        }
        EXPECT_EQ(r.data, rewritten(test_frame(uint32_t(i), mac, 1000)));
        EXPECT_EQ(int(r.verdict), expected_action(uint32_t(i)));
    }
}

// -Z nobody: once its programs are in the slots, xcap trace runs as nobody
// with no capability; on SIGINT it still empties the slots, and after kill
// -9 its guardian (forked before the drop, still privileged) does.
TEST_F(Trace, HookAfterDroppingPrivileges) {
    bpffs_mount fs(path("bpffs"));
    ASSERT_TRUE(fs.ok) << "cannot mount a bpffs: " << std::strerror(errno);
    const std::string hook = fs.dir + "/hook";
    user_program prog(*net, hook);
    ASSERT_TRUE(prog.ok()) << prog.error();
    for (int sig : {SIGINT, SIGKILL}) {
        child c = start_trace({"--hook", hook, "-Z", "nobody", "-w", path("z.pcapng")}, false);
        const std::string status = "/proc/" + std::to_string(c.pid()) + "/status";
        bool dropped = false;
        for (int i = 0; i < 200 && !dropped; ++i) {
            const std::string s = read_text(status);
            dropped = s.find("Uid:\t65534\t65534\t65534\t65534") != std::string::npos &&
                      s.find("CapEff:\t0000000000000000") != std::string::npos &&
                      s.find("CapPrm:\t0000000000000000") != std::string::npos;
            if (!dropped) {
                if (c.wait(0.05) >= 0) {
                    break;
                }
            }
        }
        const std::string err = read_text(path("trace.err"));
        if (!dropped && err.find("refuses bpf()") != std::string::npos) {
            GTEST_SKIP() << "this kernel refuses -Z: " << err;
        }
        ASSERT_TRUE(dropped) << err;
        EXPECT_EQ(prog.hook_slots_used(), actions);
        send_frames(prog, 20);
        c.signal(sig);
        EXPECT_EQ(c.wait(30), sig == SIGINT ? 0 : 128 + SIGKILL) << read_text(path("trace.err"));
        for (int i = 0; i < 200 && prog.hook_slots_used() > 0; ++i) {
            usleep(50'000);
        }
        EXPECT_EQ(prog.hook_slots_used(), 0) << "slots left after " << strsignal(sig);
        for (int i = 0; i < 200 && programs_named("xcap_hook_") > 0; ++i) {
            usleep(50'000);
        }
        EXPECT_EQ(programs_named("xcap_hook_"), 0) << "programs left after " << strsignal(sig);
        if (sig == SIGINT) {
            std::string error;
            EXPECT_EQ(read_epbs(path("z.pcapng"), &error).size(), 20u + prog.others()) << error;
        }
    }
}
