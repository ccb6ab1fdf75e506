// xcap trace -i: fentry/fexit on the program attached to the interface
// (TraceFentry, where the kernel allows them: the guest lane), the refusal
// where it does not, and the tap fallback where there is no program. See
// trace_support.h for the set-up the trace tests share.
#include <bpf/bpf.h>
#include <gtest/gtest.h>
#include <net/if.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <xdp/libxdp.h>

#include "netns_thread.h"
#include "trace_support.h"

using namespace xcap::test;

// Nothing is attached: there is nothing to trace, so, as xdpdump falls back
// to a plain capture, xcap says so in one line and records the interface's
// packets as --tap does (they go on to the stack), pcapng by default.
TEST_F(Trace, NoProgramOnTheInterfaceFallsBackToTapCapture) {
    child c(net->in_receiver({XCAP_BIN, "trace", "-i", net->receiver_if(), "-w", path("t.pcapng")}), path("o"),
            path("e"));
    ASSERT_TRUE(net->wait_receiver_xdp(true, 20)) << read_text(path("e"));
    const uint64_t rx0 = net->receiver_rx_packets();
    frame_sender s(*net);
    const uint32_t n = 20;
    for (uint32_t i = 0; i < n; ++i) {
        ASSERT_TRUE(s.send(test_frame(i, mac, 200))) << std::strerror(errno);
    }
    for (int i = 0; i < 200 && net->receiver_rx_packets() - rx0 < n; ++i) {
        usleep(50'000);
    }
    ASSERT_GE(net->receiver_rx_packets() - rx0, n) << "the stack must still get them";
    usleep(300'000);
    c.signal(SIGINT);
    ASSERT_EQ(c.wait(30), 0) << read_text(path("e"));
    const std::string err = read_text(path("e"));
    EXPECT_NE(err.find(net->receiver_if() + " has no XDP program attached: nothing to trace; capturing its packets as "
                                            "--tap does instead"),
              std::string::npos)
        << err;
    std::string error;
    auto recs = read_epbs(path("t.pcapng"), &error);
    ASSERT_EQ(error, "") << "a pcapng file";
    std::set<int64_t> seen;
    for (const auto& r : recs) {
        const int64_t i = frame_number(r.data);
        if (i >= 0) {
            EXPECT_EQ(r.data, test_frame(uint32_t(i), mac, 200)) << i;
            seen.insert(i);
        }
    }
    EXPECT_EQ(seen.size(), n) << "every frame sent is in the file";
    EXPECT_FALSE(net->receiver_has_xdp()) << "nothing left attached";
}

// Where the kernel refuses fentry (this host): one line saying what it
// refused and what it needs, exit 7, the user's program untouched, nothing
// of xcap's loaded, no file.
TEST_F(Trace, RefusedFentryExits7WithNothingLoaded) {
    if (fentry_refused_reason().empty()) {
        GTEST_SKIP() << "this kernel allows fentry/fexit on XDP programs: the refusal cannot happen here";
    }
    user_program prog(*net, "");
    ASSERT_TRUE(prog.ok()) << prog.error();
    const int before = programs_named("xcap_");
    child c(net->in_receiver({XCAP_BIN, "trace", "-i", net->receiver_if(), "-w", path("t.pcapng")}), path("o"),
            path("e"));
    EXPECT_EQ(c.wait(30), 7);
    std::string err = read_text(path("e"));
    expect_one_line(err, "cannot trace XDP program 'xdp_actions' (id " + std::to_string(prog.id()) +
                             "): this kernel refused to load fentry/fexit programs on it");
    EXPECT_NE(err.find("needs a kernel that allows BPF tracing programs"), std::string::npos) << err;
    EXPECT_NE(err.find("--hook"), std::string::npos) << err;
    EXPECT_EQ(programs_named("xcap_"), before);
    EXPECT_FALSE(file_exists(path("t.pcapng")));
    unsigned id = 0;
    EXPECT_TRUE(net->receiver_has_xdp(&id));
    EXPECT_EQ(id, prog.id());
}

// Every packet at entry (byte-identical to what was sent) and at exit (as
// the program made it, with its action), entry and exit sharing an id; the
// summary counts match the program's own.
TEST_F(TraceFentry, EveryPacketAtEntryAndExit) {
    user_program prog(*net, "");
    ASSERT_TRUE(prog.ok()) << prog.error();
    const uint32_t n = 300;
    ASSERT_EQ(trace_while_sending({"-i", net->receiver_if(), "-w", path("t.pcapng")}, true, prog, n), 0)
        << read_text(path("trace.err"));
    std::string error;
    auto recs = read_epbs(path("t.pcapng"), &error);
    ASSERT_EQ(error, "");
    ASSERT_EQ(recs.size(), 2 * (n + prog.others()));
    const std::string name = "'xdp_actions' (id " + std::to_string(prog.id()) + ")";
    std::map<uint64_t, std::vector<const epb*>> by_id;
    std::vector<int> entries(n, 0), exits(n, 0);
    std::map<int, uint64_t> by_action;
    for (const auto& r : recs) {
        int64_t i = frame_number(r.data);
        ASSERT_TRUE(r.has_id);
        by_id[r.packet_id].push_back(&r);
        if (i < 0) {
            continue;  // not the tests' UDP (see others())
        }
        ASSERT_LT(i, int64_t(n));
        if (r.comment == "entry " + name) {
            ++entries[size_t(i)];
            EXPECT_FALSE(r.has_verdict) << "no action at entry";
            EXPECT_EQ(r.data, test_frame(uint32_t(i), mac)) << "entry of frame " << i;
        } else {
            EXPECT_EQ(r.comment, "exit " + name);
            ++exits[size_t(i)];
            EXPECT_TRUE(r.has_verdict);
            EXPECT_EQ(int(r.verdict), expected_action(uint32_t(i))) << "frame " << i;
            EXPECT_EQ(r.data, rewritten(test_frame(uint32_t(i), mac))) << "exit of frame " << i;
            by_action[int(r.verdict)]++;
        }
    }
    for (uint32_t i = 0; i < n; ++i) {
        EXPECT_EQ(entries[i], 1) << "frame " << i;
        EXPECT_EQ(exits[i], 1) << "frame " << i;
    }
    EXPECT_EQ(by_id.size(), n + prog.others()) << "one id per packet";
    for (const auto& [id, pair] : by_id) {
        ASSERT_EQ(pair.size(), 2u) << "id " << id;
        EXPECT_EQ(frame_number(pair[0]->data), frame_number(pair[1]->data)) << "id " << id;
        EXPECT_NE(pair[0]->comment, pair[1]->comment) << "id " << id << ": one entry and one exit";
    }
    std::string err = read_text(path("trace.err"));
    auto summary = summary_actions(err, name);
    auto runs = prog.runs();
    for (int a = 0; a < actions; ++a) {
        EXPECT_EQ(summary[a], by_action[a] + (a == 2 ? prog.others() : 0)) << action_names[a];
        EXPECT_EQ(runs[size_t(a)], by_action[a]) << action_names[a];
    }
    EXPECT_NE(err.find("0 records lost: ring buffer full 0"), std::string::npos) << err;
}

// --at exit: one record per packet, each with its action.
TEST_F(TraceFentry, AtExitOnly) {
    user_program prog(*net, "");
    ASSERT_TRUE(prog.ok()) << prog.error();
    const uint32_t n = 60;
    const int status = trace_while_sending({"-i", net->receiver_if(), "-w", path("t.pcapng"), "--at", "exit"}, true,
                                           prog, n);
    ASSERT_EQ(status, 0) << read_text(path("trace.err"));
    std::string error;
    auto recs = read_epbs(path("t.pcapng"), &error);
    ASSERT_EQ(recs.size(), n + prog.others());
    for (const auto& r : recs) {
        int64_t i = frame_number(r.data);
        EXPECT_TRUE(r.has_verdict);
        if (i < 0) {
            continue;  // not the tests' UDP (see others())
        }
        EXPECT_EQ(int(r.verdict), expected_action(uint32_t(i)));
    }
}

// kill -9 mid-trace: the user's program stays attached and keeps working,
// and none of xcap's programs stays loaded (bpf_links die with the process).
TEST_F(TraceFentry, Kill9LeavesTheProgramAndNothingOfXcap) {
    user_program prog(*net, "");
    ASSERT_TRUE(prog.ok()) << prog.error();
    ASSERT_EQ(net->receiver_promiscuity(), 0);
    child c = start_trace({"-i", net->receiver_if(), "-w", path("t.pcapng")}, true);
    EXPECT_EQ(programs_named("xcap_e"), 2) << "xcap_entry and xcap_exit while tracing";
    EXPECT_EQ(net->receiver_promiscuity(), 1) << "the traced program should see what a capture sees";
    send_frames(prog, 30);
    c.signal(SIGKILL);
    c.wait(30);
    EXPECT_EQ(net->receiver_promiscuity(), 0) << "promiscuous mode left on after kill -9";
    for (int i = 0; i < 200 && programs_named("xcap_e") > 0; ++i) {
        usleep(50'000);
    }
    EXPECT_EQ(programs_named("xcap_e"), 0) << "a trace program outlived xcap";
    unsigned id = 0;
    EXPECT_TRUE(net->receiver_has_xdp(&id));
    EXPECT_EQ(id, prog.id());
    send_frames(prog, 30);
}

// A tiny ring under a burst: losses counted, written + lost = offered.
TEST_F(TraceFentry, TinyRingCountsEveryLoss) {
    user_program prog(*net, "");
    ASSERT_TRUE(prog.ok()) << prog.error();
    const uint32_t n = 2000;
    const int status = trace_while_sending({"-i", net->receiver_if(), "-w", path("t.pcapng"), "--ring-size", "4k"},
                                           true, prog, n, "trace", 1000, 120);
    ASSERT_EQ(status, 0) << read_text(path("trace.err"));
    std::string err = read_text(path("trace.err"));
    std::string error;
    auto recs = read_epbs(path("t.pcapng"), &error);
    const uint64_t written = number_in(err, "([0-9]+) records? written");
    const uint64_t offered = number_in(err, "([0-9]+) records? offered");
    const uint64_t lost = number_in(err, "lost: ring buffer full ([0-9]+)");
    EXPECT_EQ(offered, 2 * (n + prog.others()));
    EXPECT_GT(lost, 0u) << err;
    EXPECT_EQ(written + lost, offered) << err;
    EXPECT_EQ(recs.size(), written);
}

// Two programs behind libxdp's dispatcher (freplace; the guest allows it):
// --program picks one, and only its packets' records are written. libxdp
// keeps the dispatcher's pins in a bpffs; the test's own is named through
// LIBXDP_BPFFS, for the test and for xcap (under `ip netns exec`, which
// remounts /sys). The tests' program goes there without its xdpcap hook
// (xdp_actions_nohook.bpf.c: a kernel with the changes_pkt_data check, 6.12
// here, refuses a tail-calling extension in place of libxdp 1.3's stubs).
TEST_F(TraceFentry, ProgramPicksOneBehindTheDispatcher) {
    bpffs_mount fs(path("bpffs"));
    ASSERT_TRUE(fs.ok) << "cannot mount a bpffs: " << std::strerror(errno);
    setenv("LIBXDP_BPFFS", fs.dir.c_str(), 1);
    struct env_reset {
        ~env_reset() { unsetenv("LIBXDP_BPFFS"); }
    } reset;
    xdp_program* progs[2] = {xdp_program__open_file(XDP_ACTIONS_NOHOOK_OBJ, "xdp", nullptr),
                             xdp_program__open_file(XDP_PASS_OBJ, "xdp", nullptr)};
    ASSERT_FALSE(libxdp_get_error(progs[0]) || libxdp_get_error(progs[1])) << "cannot open the programs";
    int err = 0;
    int ifindex = 0;
    const std::string joined = run_in_netns(net->receiver_ns(), [&] {
        ifindex = int(if_nametoindex(net->receiver_if().c_str()));
        err = xdp_program__attach_multi(progs, 2, ifindex, XDP_MODE_NATIVE, 0);
    });
    EXPECT_EQ(joined, "");
    struct detacher {
        const veth_pair& net;
        int ifindex;
        xdp_program** progs;
        ~detacher() {
            const std::string left = run_in_netns(net.receiver_ns(), [&] {
                xdp_multiprog* mp = xdp_multiprog__get_from_ifindex(ifindex);
                if (mp && !libxdp_get_error(mp)) {
                    xdp_multiprog__detach(mp);
                    xdp_multiprog__close(mp);
                }
            });
            EXPECT_EQ(left, "");
            xdp_program__close(progs[0]);
            xdp_program__close(progs[1]);
        }
    } detach{*net, ifindex, progs};
    if (err == -EOPNOTSUPP) {
        GTEST_SKIP() << "libxdp's dispatcher cannot run on this kernel (no freplace)";
    }
    ASSERT_EQ(err, 0) << "xdp_program__attach_multi: " << std::strerror(-err);
    // libxdp sorts the array into run order (priority, then name).
    xdp_program* actions_prog = std::string(xdp_program__name(progs[0])) == "xdp_actions" ? progs[0] : progs[1];
    const uint32_t id = xdp_program__id(actions_prog);

    const uint32_t n = 60;
    frame_sender sender(*net);
    {
        child c = start_trace({"-i", net->receiver_if(), "-w", path("t.pcapng"), "--program", "xdp_actions"}, true);
        EXPECT_NE(read_text(path("trace.err")).find("behind libxdp's dispatcher"), std::string::npos)
            << read_text(path("trace.err"));
        for (uint32_t i = 0; i < n; ++i) {
            ASSERT_TRUE(sender.send(test_frame(i, mac)));
        }
        // Until the dispatcher's xdp_actions ran for them all (its counters,
        // through libxdp's copy of its object).
        int runs = -1;
        {
            bpf_prog_info info{};
            uint32_t len = sizeof(info);
            uint32_t ids[8] = {};
            info.nr_map_ids = 8;
            info.map_ids = reinterpret_cast<uint64_t>(ids);
            ASSERT_EQ(bpf_obj_get_info_by_fd(xdp_program__fd(actions_prog), &info, &len), 0);
            for (uint32_t k = 0; k < std::min<uint32_t>(info.nr_map_ids, 8) && runs < 0; ++k) {
                int fd = bpf_map_get_fd_by_id(ids[k]);
                bpf_map_info mi{};
                uint32_t mlen = sizeof(mi);
                if (fd >= 0 && bpf_obj_get_info_by_fd(fd, &mi, &mlen) == 0 && std::string(mi.name) == "action_runs") {
                    runs = fd;
                } else if (fd >= 0) {
                    close(fd);
                }
            }
        }
        ASSERT_GE(runs, 0) << "no action_runs map on the dispatcher's xdp_actions";
        struct closer {
            int fd;
            ~closer() { close(fd); }
        } close_runs{runs};
        auto total = [&] {
            uint64_t sum = 0;
            for (uint32_t a = 0; a < actions; ++a) {
                uint64_t v = 0;
                bpf_map_lookup_elem(runs, &a, &v);
                sum += v;
            }
            return sum;
        };
        for (int i = 0; i < 600 && total() < n; ++i) {
            usleep(50'000);
        }
        ASSERT_EQ(total(), n);
        c.signal(SIGINT);
        ASSERT_EQ(c.wait(60), 0) << read_text(path("trace.err"));
    }
    std::string err_text = read_text(path("trace.err"));
    const std::string name = "'xdp_actions' (id " + std::to_string(id) + ")";
    std::string error;
    auto recs = read_epbs(path("t.pcapng"), &error);
    uint32_t test_records = 0;
    for (const auto& r : recs) {
        EXPECT_TRUE(r.comment == "entry " + name || r.comment == "exit " + name) << r.comment;
        test_records += frame_number(r.data) >= 0;
    }
    EXPECT_EQ(test_records, 2 * n) << err_text;
    EXPECT_EQ(err_text.find("not_xcap_pass"), std::string::npos) << "only the program named was traced:\n" << err_text;
    summary_actions(err_text, name);
}

// Jumbo frames at MTU 9000 through a program loaded with frags: veth hands
// it every frame longer than a page in several buffers (the program counts
// them), and the fentry/fexit records hold each frame whole, at entry as
// sent and at exit as rewritten, with the whole length; a filter that reads
// a byte past the first buffer sees it.
TEST_F(TraceFentry, JumboFramesWholeAtEntryAndExit) {
    auto mtu = sh("ip -n " + net->sender_ns() + " link set dev " + net->sender_if() + " mtu 9000 && ip -n " +
                  net->receiver_ns() + " link set dev " + net->receiver_if() + " mtu 9000");
    ASSERT_EQ(mtu.status, 0) << mtu.output;
    user_program prog(*net, "", true);
    ASSERT_TRUE(prog.ok()) << prog.error();
    // Every action with every size: 9,014 bytes (the largest at MTU 9000),
    // 6,000, 4,200 and 1,000. Byte 5,000 carries the frame's number.
    const size_t sizes[] = {9014, 6000, 4200, 1000};
    const uint32_t n = 48;
    auto frame = [&](uint32_t i) {
        auto f = test_frame(i, mac, sizes[(i / 6) % 4]);
        if (f.size() > 5000) {
            f[5000] = uint8_t(i);
        }
        return f;
    };
    auto run = [&](const std::string& name, std::vector<std::string> filter) {
        std::vector<std::string> args = {"-i", net->receiver_if(), "-w", path(name + ".pcapng")};
        args.insert(args.end(), filter.begin(), filter.end());
        child c = start_trace(args, true, name);
        frame_sender s(*net);
        const uint64_t before = prog.total_runs();
        for (uint32_t i = 0; i < n; ++i) {
            ASSERT_TRUE(s.send(frame(i))) << "frame " << i << ": " << std::strerror(errno);
        }
        for (int k = 0; k < 600 && prog.total_runs() < before + n; ++k) {
            usleep(50'000);
        }
        ASSERT_EQ(prog.total_runs(), before + n) << "the program did not see every frame";
        c.signal(SIGINT);
        ASSERT_EQ(c.wait(60), 0) << read_text(path(name + ".err"));
    };
    // Every frame.
    run("all", {});
    EXPECT_GE(prog.multi_buffer_runs(), n / 2) << "veth did not hand the program multi-buffer frames";
    std::string error;
    auto recs = read_epbs(path("all.pcapng"), &error);
    ASSERT_EQ(error, "");
    std::vector<int> entries(n, 0), exits(n, 0);
    for (const auto& r : recs) {
        const int64_t i = frame_number(r.data);
        if (i < 0) {
            continue;  // not the tests' UDP (see others())
        }
        ASSERT_LT(i, int64_t(n));
        const auto sent = frame(uint32_t(i));
        EXPECT_EQ(r.orig_len, sent.size()) << "frame " << i << ": the whole length";
        if (r.has_verdict) {
            ++exits[size_t(i)];
            EXPECT_EQ(r.data.size(), sent.size()) << "exit of frame " << i;
            EXPECT_TRUE(r.data == rewritten(sent)) << "exit of frame " << i << " is not the frame, whole";
        } else {
            ++entries[size_t(i)];
            EXPECT_EQ(r.data.size(), sent.size()) << "entry of frame " << i;
            EXPECT_TRUE(r.data == sent) << "entry of frame " << i << " is not the frame, whole";
        }
    }
    for (uint32_t i = 0; i < n; ++i) {
        EXPECT_EQ(entries[i], 1) << "frame " << i;
        EXPECT_EQ(exits[i], 1) << "frame " << i;
    }
    // A filter on byte 5,000, which lies past the first buffer: the odd
    // frames long enough to have it.
    run("filtered", {"ether[5000] & 1 = 1"});
    recs = read_epbs(path("filtered.pcapng"), &error);
    ASSERT_EQ(error, "");
    uint32_t want = 0;
    for (uint32_t i = 0; i < n; ++i) {
        want += i % 2 == 1 && frame(i).size() > 5000;
    }
    ASSERT_GT(want, 0u);
    EXPECT_EQ(recs.size(), 2u * want);
    for (const auto& r : recs) {
        const int64_t i = frame_number(r.data);
        ASSERT_GE(i, 0);
        EXPECT_TRUE(i % 2 == 1 && r.orig_len > 5000) << "frame " << i << " does not match";
        EXPECT_EQ(r.data.size(), r.orig_len) << "frame " << i;
    }
}
