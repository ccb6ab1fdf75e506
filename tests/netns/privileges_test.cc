// Dropped privileges: -Z USER switches to USER with no capability left once
// xcap is set up, files and -z commands are then USER's, and nothing xcap
// attached outlives it however it ends. And running without root on file
// capabilities (ambient capabilities given by setpriv, as a setcap binary
// gets them): the smallest set that works, and the exit-4 line naming the
// one that is missing. Needs root; skips with the reason otherwise.
#include <gtest/gtest.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <map>
#include <sstream>

#include "netns_test.h"

using namespace xcap::test;

namespace {

constexpr uid_t nobody = 65534;
constexpr gid_t nogroup = 65534;

// The lines of /proc/PID/status (or of one of its tasks) by name.
std::map<std::string, std::string> status_of(const std::string& file) {
    std::map<std::string, std::string> m;
    std::ifstream f(file);
    for (std::string line; std::getline(f, line);) {
        if (auto colon = line.find(':'); colon != std::string::npos) {
            auto v = line.substr(colon + 1);
            v.erase(0, v.find_first_not_of(" \t"));
            v.erase(v.find_last_not_of(" \t") + 1);
            m[line.substr(0, colon)] = v;
        }
    }
    return m;
}

// Polls until the process runs as `uid` (every field of Uid:); false after 10 s.
bool wait_for_uid(pid_t pid, uid_t uid) {
    const std::string want = std::to_string(uid);
    const std::string line = want + "\t" + want + "\t" + want + "\t" + want;
    for (int i = 0; i < 200; ++i) {
        if (status_of("/proc/" + std::to_string(pid) + "/status")["Uid"] == line) {
            return true;
        }
        usleep(50'000);
    }
    return false;
}

// Polls until the process has no effective capability; false after 10 s.
bool wait_for_no_caps(pid_t pid) {
    for (int i = 0; i < 200; ++i) {
        if (status_of("/proc/" + std::to_string(pid) + "/status")["CapEff"] == "0000000000000000") {
            return true;
        }
        usleep(50'000);
    }
    return false;
}

// Every thread of `pid` has no capability in any set.
void expect_no_capabilities(pid_t pid) {
    const std::string tasks = "/proc/" + std::to_string(pid) + "/task";
    auto listing = sh("ls " + tasks).output;
    std::istringstream in(listing);
    int threads = 0;
    for (std::string tid; in >> tid; ++threads) {
        auto st = status_of(tasks + "/" + tid + "/status");
        for (const char* set : {"CapEff", "CapPrm", "CapInh", "CapAmb"}) {
            EXPECT_EQ(st[set], "0000000000000000") << set << " of thread " << tid;
        }
    }
    EXPECT_GE(threads, 2) << "the capture thread runs beside the main thread";
}

uid_t owner_of(const std::string& path) {
    struct stat st {};
    EXPECT_EQ(stat(path.c_str(), &st), 0) << path;
    return st.st_uid;
}

class Privileges : public netns_test {
protected:
    void prepare() override {
        if (!getpwnam("nobody")) {
            GTEST_SKIP() << "no user nobody on this machine";
        }
        // The user must be able to make the next files of a rotation there.
        ASSERT_EQ(chown(scratch.path().c_str(), nobody, nogroup), 0);
    }

    // Nothing of xcap's is left: no program on the interface or in the
    // kernel, promiscuous mode back at 0.
    void expect_nothing_left(unsigned prog_id) {
        EXPECT_TRUE(net->wait_receiver_xdp(false, 5)) << "an XDP program is still attached";
        bool gone = false;
        for (int i = 0; i < 100 && !(gone = !bpf_prog_exists(prog_id)); ++i) {
            usleep(50'000);
        }
        EXPECT_TRUE(gone) << "program " << prog_id << " still loaded";
        EXPECT_EQ(net->receiver_promiscuity(), 0) << "promiscuous mode left on";
    }

    // xcap with `args` on the receiving side, once it runs as nobody with no
    // capability left; the id of the program it attached in `*prog_id`.
    child start_dropped(std::vector<std::string> args, const std::string& name, unsigned* prog_id) {
        child x = start_xcap(std::move(args), name);
        EXPECT_TRUE(net->receiver_has_xdp(prog_id));
        EXPECT_TRUE(wait_for_uid(x.pid(), nobody)) << read_text(path(name + ".err"));
        EXPECT_TRUE(wait_for_no_caps(x.pid()));
        return x;
    }

    // The setpriv command line that starts `argv` as nobody with `caps`
    // ("net_admin,bpf,...") as ambient capabilities: what a setcap'd binary
    // gets as its permitted and effective sets.
    void expect_each_one_named(const std::vector<std::string>& caps, const std::vector<std::string>& extra);

    std::vector<std::string> as_nobody_with(const std::string& caps, std::vector<std::string> argv) const {
        std::string plus;
        for (size_t pos = 0; pos <= caps.size();) {
            size_t comma = caps.find(',', pos);
            std::string c = caps.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
            if (!c.empty()) {
                plus += (plus.empty() ? "+" : ",+") + c;
            }
            pos = comma == std::string::npos ? caps.size() + 1 : comma + 1;
        }
        std::vector<std::string> cmd = {"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"};
        if (!plus.empty()) {
            cmd.push_back("--inh-caps=" + plus);
            cmd.push_back("--ambient-caps=" + plus);
        }
        cmd.insert(cmd.end(), argv.begin(), argv.end());
        return net->in_receiver(cmd);
    }
};

// The smallest sets on this kernel (6.18), found by taking each away (see
// FileCapabilitiesWithoutRoot): a redirect capture's, and --tap's (without
// net_raw with -p).
const std::vector<std::string> capture_caps = {"net_admin", "bpf", "perfmon", "net_raw", "ipc_lock"};
const std::vector<std::string> tap_caps = {"net_admin", "bpf", "net_raw"};

std::string joined(const std::vector<std::string>& caps, const std::string& leave_out = {}) {
    std::string s;
    for (const auto& c : caps) {
        if (c != leave_out) {
            s += (s.empty() ? "" : ",") + c;
        }
    }
    return s;
}

}  // namespace

// During a capture with -Z nobody: uid and gid nobody's, no capability in
// any thread; every frame sent is in the file, which nobody owns; after the
// exit nothing is attached or loaded and promiscuous mode is off.
TEST_F(Privileges, DropToNobodyDuringCaptureThenDetachOnSigint) {
    unsigned id = 0;
    child x = start_dropped({"-Z", "nobody", "-w", path("z.pcap")}, "z", &id);
    auto st = status_of("/proc/" + std::to_string(x.pid()) + "/status");
    EXPECT_EQ(st["Gid"], "65534\t65534\t65534\t65534");
    EXPECT_EQ(st["Groups"], "65534") << "the user's own groups, not root's";
    expect_no_capabilities(x.pid());
    send(500);
    x.signal(SIGINT);
    ASSERT_EQ(x.wait(20), 0) << read_text(path("z.err"));
    const std::string err = read_text(path("z.err"));
    EXPECT_NE(err.find("running as nobody (uid 65534), no capabilities left"), std::string::npos) << err;
    EXPECT_EQ(number_in(err, "([0-9]+) packets captured"), 500u);
    std::string error;
    EXPECT_EQ(read_capture(path("z.pcap"), &error).size(), 500u) << error;
    EXPECT_EQ(owner_of(path("z.pcap")), nobody);
    expect_nothing_left(id);
}

// kill -9 of the dropped process: the kernel removes the bpf_link and the
// packet socket's promiscuous membership; nothing needs privilege.
TEST_F(Privileges, Kill9AfterTheDropLeavesNothing) {
    unsigned id = 0;
    child x = start_dropped({"-Z", "nobody", "-w", path("k.pcap")}, "k", &id);
    x.signal(SIGKILL);
    ASSERT_EQ(x.wait(10), 128 + SIGKILL);
    expect_nothing_left(id);
}

// --tap detaches the same way after the drop.
TEST_F(Privileges, TapDropsAndDetaches) {
    unsigned id = 0;
    child x = start_dropped({"--tap", "-Q", "in", "-Z", "nobody", "-w", path("t.pcapng")}, "t", &id);
    expect_no_capabilities(x.pid());
    send(300);
    x.signal(SIGTERM);
    ASSERT_EQ(x.wait(20), 0) << read_text(path("t.err"));
    std::string error;
    EXPECT_EQ(read_capture(path("t.pcapng"), &error).size(), 300u) << error;
    EXPECT_EQ(owner_of(path("t.pcapng")), nobody);
    expect_nothing_left(id);
}

// With -C the files after the first are made by nobody, and each -z command
// runs as nobody; every frame is in exactly one file.
TEST_F(Privileges, RotationAndPostRotateCommandsRunAsTheUser) {
    const std::string hook = path("hook.sh");
    {
        std::ofstream f(hook);
        f << "#!/bin/sh\nid -u > \"$1.uid\"\n";
    }
    ASSERT_EQ(chmod(hook.c_str(), 0755), 0);
    unsigned id = 0;
    child x = start_dropped({"-Z", "nobody", "-C", "32k", "-z", hook, "-w", path("r.pcap")}, "r", &id);
    send(1000);
    x.signal(SIGINT);
    ASSERT_EQ(x.wait(30), 0) << read_text(path("r.err"));
    size_t files = 0;
    size_t records = 0;
    for (size_t i = 0; i < 1000; ++i) {
        const std::string name = "r.pcap" + (i ? std::to_string(i) : std::string());
        if (access(path(name).c_str(), F_OK) != 0) {
            break;
        }
        ++files;
        std::string error;
        records += read_capture(path(name), &error).size();
        EXPECT_EQ(error, "") << name;
        EXPECT_EQ(owner_of(path(name)), nobody) << name;
        EXPECT_EQ(read_text(path(name + ".uid")), "65534\n") << "the -z command on " << name;
    }
    EXPECT_GE(files, 3u) << "1000 frames of up to 1,5 KB make several 32 KiB files";
    EXPECT_EQ(records, 1000u);
    expect_nothing_left(id);
}

// A user that does not exist: one line, exit 2, nothing attached, no file.
TEST_F(Privileges, UnknownUserIsRefusedBeforeAnythingIsAttached) {
    std::string err;
    EXPECT_EQ(run(xcap({"-Z", "no-such-user-xcap", "-w", path("u.pcap")}), err), 2);
    EXPECT_NE(err.find("-Z no-such-user-xcap: no such user on this machine"), std::string::npos) << err;
    EXPECT_FALSE(net->receiver_has_xdp());
    EXPECT_NE(access(path("u.pcap").c_str(), F_OK), 0) << "no file is left behind";
}

// The default, as Debian's tcpdump: as root, the user xcap when it exists;
// without it xcap stays root (a fresh machine has no such user).
TEST_F(Privileges, DefaultUserOnlyWhenItExists) {
    const bool has_xcap_user = getpwnam("xcap") != nullptr;
    unsigned id = 0;
    child x = start_xcap({"-w", path("d.pcap")}, "d");
    EXPECT_TRUE(net->receiver_has_xdp(&id));
    if (has_xcap_user) {
        EXPECT_TRUE(wait_for_uid(x.pid(), getpwnam("xcap")->pw_uid));
    } else {
        usleep(300'000);
        auto st = status_of("/proc/" + std::to_string(x.pid()) + "/status");
        EXPECT_EQ(st["Uid"], "0\t0\t0\t0");
        EXPECT_NE(st["CapEff"], "0000000000000000");
    }
    x.signal(SIGINT);
    ASSERT_EQ(x.wait(20), 0) << read_text(path("d.err"));
    expect_nothing_left(id);
}

// Without root, on the capabilities a setcap'd binary would have: the
// capture works, drops them once set up, and leaves nothing behind; and
// with any one of them missing, exit 4 with a line naming exactly it.
TEST_F(Privileges, FileCapabilitiesWithoutRoot) {
    if (sh("command -v setpriv").status != 0) {
        GTEST_SKIP() << "setpriv (util-linux) is not installed";
    }
    unsigned id = 0;
    child x = start_attached(
        as_nobody_with(joined(capture_caps), {XCAP_BIN, "-i", net->receiver_if(), "-w", path("c.pcap")}), "c");
    EXPECT_TRUE(net->receiver_has_xdp(&id));
    EXPECT_TRUE(wait_for_no_caps(x.pid())) << read_text(path("c.err"));
    expect_no_capabilities(x.pid());
    send(200);
    x.signal(SIGINT);
    ASSERT_EQ(x.wait(20), 0) << read_text(path("c.err"));
    std::string error;
    EXPECT_EQ(read_capture(path("c.pcap"), &error).size(), 200u) << error;
    expect_nothing_left(id);

    expect_each_one_named(capture_caps, {});
}

// --tap needs fewer: no UMEM, no sockets, and its program passes the
// verifier without CAP_PERFMON; with -p not even CAP_NET_RAW.
TEST_F(Privileges, TapFileCapabilitiesWithoutRoot) {
    if (sh("command -v setpriv").status != 0) {
        GTEST_SKIP() << "setpriv (util-linux) is not installed";
    }
    for (bool promisc : {true, false}) {
        const auto caps = promisc ? tap_caps : std::vector<std::string>{"net_admin", "bpf"};
        std::vector<std::string> argv = {XCAP_BIN, "-i", net->receiver_if(), "--tap", "-c", "100", "-w",
                                         path("tap.pcap")};
        if (!promisc) {
            argv.push_back("-p");
        }
        child x = start_attached(as_nobody_with(joined(caps), argv), "tap");
        EXPECT_TRUE(wait_for_no_caps(x.pid())) << read_text(path("tap.err"));
        send(100);
        ASSERT_EQ(x.wait(20), 0) << read_text(path("tap.err"));
        std::string error;
        EXPECT_EQ(read_capture(path("tap.pcap"), &error).size(), 100u) << error;
        EXPECT_TRUE(net->wait_receiver_xdp(false, 5));
        std::vector<std::string> extra = {"--tap"};
        if (!promisc) {
            extra.push_back("-p");
        }
        expect_each_one_named(caps, extra);
    }
}

// Continues FileCapabilitiesWithoutRoot's fixture: with each of `caps` taken
// away in turn, exit 4 with one line naming exactly that one.
void Privileges::expect_each_one_named(const std::vector<std::string>& caps, const std::vector<std::string>& extra) {
    for (const auto& missing : caps) {
        std::vector<std::string> argv = {XCAP_BIN, "-i", net->receiver_if(), "-w", path("m.pcap")};
        argv.insert(argv.end(), extra.begin(), extra.end());
        std::string err;
        EXPECT_EQ(run(as_nobody_with(joined(caps, missing), argv), err), 4) << missing << ": " << err;
        std::string upper = "CAP_";
        for (char ch : missing) {
            upper += char(toupper(ch));
        }
        EXPECT_NE(err.find("not root; missing " + upper + " ("), std::string::npos) << err;
        EXPECT_EQ(err.find(", CAP_"), std::string::npos) << "only the missing one is named: " << err;
        EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
        EXPECT_FALSE(net->receiver_has_xdp());
    }
}

// -Z as a non-root user with capabilities but not CAP_SETUID: exit 4 naming it.
TEST_F(Privileges, SwitchingUsersWithoutRootNeedsSetuid) {
    if (sh("command -v setpriv").status != 0) {
        GTEST_SKIP() << "setpriv (util-linux) is not installed";
    }
    std::string err;
    EXPECT_EQ(run(as_nobody_with(joined(capture_caps),
                                 {XCAP_BIN, "-i", net->receiver_if(), "-Z", "daemon", "-w", path("s.pcap")}),
                  err),
              4);
    EXPECT_NE(err.find("missing CAP_SETUID"), std::string::npos) << err;
    EXPECT_FALSE(net->receiver_has_xdp());
}
