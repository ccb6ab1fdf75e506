// `xcap -D` in a namespace of the test's own, checked against what other
// tools read from the kernel: sysfs and `ip -d -j link` for queues, MTU and
// driver kind, `tcpdump -D` for the flags, `ip link` for the attached
// program, and a second, independent netdev-netlink reader
// (tests/netns/netdev_dump.py) for the XDP features, beside two rules of
// the veth driver that make those features change.
#include <algorithm>
#include <cstring>
#include <map>
#include <regex>
#include <sstream>

#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/netlink.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "netns_test.h"

using namespace xcap::test;

namespace {

struct listed {
    unsigned number = 0;
    std::string description;  // in parentheses, "" when none
    std::string flags;        // inside the brackets
    std::map<std::string, std::string> facts;  // "queues" -> "4 RX, 2 TX; MTU 1400"
};

// Splits `xcap -D` into its groups, by interface name; fails the test on a
// line that is neither a header nor an indented fact.
std::map<std::string, listed> parse_listing(const std::string& text, std::vector<std::string>* order = nullptr) {
    static const std::regex header(R"(^([0-9]+)\.(\S+)(?: \((.*)\))? \[(.*)\]$)");
    static const std::regex fact(R"(^    ([^:]+): (.*)$)");
    std::map<std::string, listed> out;
    listed* cur = nullptr;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        std::smatch m;
        if (std::regex_match(line, m, header)) {
            cur = &out[m[2]];
            cur->number = unsigned(std::stoul(m[1]));
            cur->description = m[3];
            cur->flags = m[4];
            if (order) {
                order->push_back(m[2]);
            }
        } else if (cur && std::regex_match(line, m, fact)) {
            cur->facts[m[1]] = m[2];
        } else {
            ADD_FAILURE() << "unexpected line: '" << line << "' in:\n" << text;
        }
    }
    return out;
}

// The independent reader's answer: ifindex -> attribute -> value; empty
// with *family false when the kernel has no netdev family.
std::map<unsigned, std::map<std::string, uint64_t>> netdev_dump(const std::string& ns, bool* family) {
    auto r = sh("ip netns exec " + ns + " python3 " + quote(NETDEV_DUMP_PY));
    EXPECT_EQ(r.status, 0) << r.output;
    std::map<unsigned, std::map<std::string, uint64_t>> out;
    *family = r.output.find("no-family") == std::string::npos;
    static const std::regex word(R"(([a-z-]+)=([0-9]+))");
    std::istringstream in(r.output);
    for (std::string line; std::getline(in, line);) {
        std::map<std::string, uint64_t> attrs;
        for (std::sregex_iterator it(line.begin(), line.end(), word), end; it != end; ++it) {
            attrs[(*it)[1]] = std::stoull((*it)[2]);
        }
        if (attrs.count("ifindex")) {
            out[unsigned(attrs["ifindex"])] = attrs;
        }
    }
    return out;
}

// The names the kernel's netdev spec gives the bits, written out here
// rather than taken from xcap.
std::string names(uint64_t bits, const std::vector<std::string>& table) {
    std::string s;
    for (size_t i = 0; i < 64; ++i) {
        if (bits & (uint64_t(1) << i)) {
            s += (s.empty() ? "" : ", ") + (i < table.size() ? table[i] : "bit-" + std::to_string(i));
        }
    }
    return s.empty() ? "none" : s;
}
const std::vector<std::string> xdp_names = {"basic", "redirect", "ndo-xmit", "xsk-zerocopy",
                                            "hw-offload", "rx-sg", "ndo-xmit-sg"};
const std::vector<std::string> metadata_names = {"timestamp", "hash", "vlan-tag"};

class DevicesTest : public netns_test {
protected:
    void prepare() override {
        // In the receiving namespace, which the fixture deletes with all of
        // this: dv-a/dv-b with 4 RX and 2 TX queues each and MTU 1400 (a
        // peer sends on at most as many queues as this end receives on, so
        // the veth driver offers XDP), and dv-c/dv-d the other way round,
        // 2 RX and 4 TX (more TX queues at the peer than RX queues here:
        // the driver clears every XDP feature). dv-c stays down.
        ns = net->receiver_ns();
        auto r = sh("set -e; ip -n " + ns + " link add dv-a numrxqueues 4 numtxqueues 2 mtu 1400 type veth peer name dv-b "
                    "numrxqueues 4 numtxqueues 2 mtu 1400; ip -n " + ns + " link add dv-c numrxqueues 2 numtxqueues 4 "
                    "type veth peer name dv-d numrxqueues 2 numtxqueues 4; ip -n " + ns + " link set dv-a alias 'test uplink'; "
                    "ip -n " + ns + " link set dv-a up; ip -n " + ns + " link set dv-b up");
        ASSERT_EQ(r.status, 0) << r.output;
        // IFF_RUNNING follows the carrier through the kernel's linkwatch,
        // a moment after `up`: wait for it, so that xcap and tcpdump read
        // the same state.
        for (const auto& dev : {std::string("dv-a"), std::string("dv-b"), net->receiver_if()}) {
            bool up = false;
            for (int i = 0; i < 500 && !up; ++i) {
                up = in_ns("cat /sys/class/net/" + dev + "/operstate") == "up\n";
                if (!up) {
                    timespec ts{0, 10'000'000};
                    nanosleep(&ts, nullptr);
                }
            }
            ASSERT_TRUE(up) << dev << " did not come up in 5 s";
        }
    }

    std::map<std::string, listed> list(std::vector<std::string>* order = nullptr) {
        auto r = sh("ip netns exec " + ns + " " + XCAP_BIN + " -D 2>&1");
        EXPECT_EQ(r.status, 0) << r.output;
        last_output = r.output;
        return parse_listing(r.output, order);
    }

    std::string in_ns(const std::string& cmd) { return sh("ip netns exec " + ns + " " + cmd).output; }
    uint64_t sysfs_number(const std::string& dev, const std::string& file) {
        return std::stoull(in_ns("cat /sys/class/net/" + dev + "/" + file));
    }
    uint64_t sysfs_queues(const std::string& dev, const std::string& prefix) {
        return std::stoull(in_ns("sh -c 'ls /sys/class/net/" + dev + "/queues | grep -c ^" + prefix + "'"));
    }

    // Every XDP fact of `dev` as xcap shows it equals what the other reader got.
    void expect_features_match(const std::map<std::string, listed>& l, const std::string& dev,
                               const std::map<unsigned, std::map<std::string, uint64_t>>& kernel, bool family) {
        SCOPED_TRACE(dev);
        const auto& facts = l.at(dev).facts;
        if (!family) {
            EXPECT_EQ(facts.at("XDP features"), "not reported by this kernel");
            return;
        }
        auto it = kernel.find(unsigned(sysfs_number(dev, "ifindex")));
        ASSERT_NE(it, kernel.end()) << "the kernel's reply has no " << dev;
        const auto& k = it->second;
        uint64_t xdp = k.at("xdp-features");
        EXPECT_EQ(facts.at("XDP features"), names(xdp, xdp_names)) << last_output;
        EXPECT_EQ(facts.at("XDP modes"), (xdp & 1) ? "native, generic" : "generic only");
        if (k.count("xdp-rx-metadata-features")) {
            EXPECT_EQ(facts.at("XDP RX metadata"), names(k.at("xdp-rx-metadata-features"), metadata_names));
        }
        if (xdp & 8) {
            EXPECT_EQ(facts.at("AF_XDP zero-copy").rfind("yes", 0), 0u);
        } else {
            EXPECT_EQ(facts.at("AF_XDP zero-copy"), "no (copy mode only)");
        }
    }

    std::string ns;
    std::string last_output;
};

TEST_F(DevicesTest, ListingMatchesSysfsIpTcpdumpAndTheKernelsNetlinkReply) {
    std::vector<std::string> order;
    auto l = list(&order);
    for (const char* dev : {"lo", "dv-a", "dv-b", "dv-c", "dv-d"}) {
        ASSERT_TRUE(l.count(dev)) << dev << " missing from:\n" << last_output;
    }
    ASSERT_TRUE(l.count(net->receiver_if())) << last_output;
    // Numbered 1..N in ifindex order, every interface of the namespace.
    uint64_t prev_index = 0;
    for (size_t i = 0; i < order.size(); ++i) {
        EXPECT_EQ(l[order[i]].number, i + 1);
        uint64_t idx = sysfs_number(order[i], "ifindex");
        EXPECT_GT(idx, prev_index) << order[i];
        prev_index = idx;
    }
    EXPECT_EQ(order.size(), std::stoull(in_ns("sh -c 'ls /sys/class/net | wc -l'")));

    // Queues and MTU: the values the test set, as sysfs and ip see them.
    EXPECT_EQ(l["dv-a"].facts["queues"], "4 RX, 2 TX; MTU 1400");
    EXPECT_EQ(l["dv-c"].facts["queues"], "2 RX, 4 TX; MTU 1500");
    const std::string rxq = R"("num_rx_queues":([0-9]+))", txq = R"("num_tx_queues":([0-9]+))",
                      mtu = R"("mtu":([0-9]+))";
    static const std::regex kind(R"re("info_kind":"([a-z]+)")re");
    for (const auto& dev : {std::string("dv-a"), std::string("dv-b"), std::string("dv-c"), std::string("dv-d"),
                            net->receiver_if()}) {
        SCOPED_TRACE(dev);
        std::string ip = in_ns("ip -d -j link show dev " + dev);
        std::string expect = std::to_string(number_in(ip, rxq)) + " RX, " +
                             std::to_string(number_in(ip, txq)) + " TX; MTU " +
                             std::to_string(number_in(ip, mtu));
        EXPECT_EQ(l[dev].facts["queues"], expect);
        EXPECT_EQ(expect, std::to_string(sysfs_queues(dev, "rx-")) + " RX, " +
                              std::to_string(sysfs_queues(dev, "tx-")) + " TX; MTU " +
                              std::to_string(sysfs_number(dev, "mtu")));
        std::smatch m;
        ASSERT_TRUE(std::regex_search(ip, m, kind)) << ip;
        EXPECT_EQ(l[dev].facts["driver"].rfind(m[1].str() + " ", 0), 0u) << "ethtool's driver is ip's kind here";
        EXPECT_EQ(l[dev].facts["XDP program"], "none");
    }
    EXPECT_EQ(l["dv-a"].description, "test uplink") << "the interface's alias";
    EXPECT_EQ(l["dv-b"].description, "");
    EXPECT_EQ(l["lo"].facts["driver"], "none reported");

    // The flags are tcpdump's own, word for word.
    if (!have_tool("tcpdump")) {
        ADD_FAILURE() << "tcpdump is not installed; the README's setup installs it";
    } else {
        auto td = parse_listing(in_ns("tcpdump -D"));
        for (const auto& [name, g] : l) {
            ASSERT_TRUE(td.count(name)) << name;
            EXPECT_EQ(g.flags, td[name].flags) << name;
        }
    }
    EXPECT_EQ(l["dv-a"].flags, "Up, Running, Connected");
    EXPECT_EQ(l["dv-c"].flags, "none, Disconnected");
    EXPECT_EQ(l["lo"].flags.find("Loopback") != std::string::npos, true);

    // XDP features: as the independent reader got them, for every interface.
    bool family = false;
    auto kernel = netdev_dump(ns, &family);
    for (const auto& [name, g] : l) {
        expect_features_match(l, name, kernel, family);
    }
    if (family) {
        // The veth driver's rules (drivers/net/veth.c, veth_set_xdp_features).
        for (const char* dev : {"dv-a", "dv-b"}) {
            std::string f = l[dev].facts["XDP features"];
            EXPECT_NE(f.find("basic"), std::string::npos) << dev;
            EXPECT_NE(f.find("redirect"), std::string::npos) << dev;
            EXPECT_NE(f.find("rx-sg"), std::string::npos) << dev;
            EXPECT_EQ(l[dev].facts["AF_XDP zero-copy"], "no (copy mode only)") << "veth has no zero-copy";
        }
        EXPECT_EQ(l["dv-c"].facts["XDP features"], "none") << "its peer has more TX queues than it has RX queues";
        EXPECT_EQ(l["dv-c"].facts["XDP modes"], "generic only");
    }
}

TEST_F(DevicesTest, AnAttachedProgramIsNamedWithItsModeAndMakesThePeerARedirectTarget) {
    auto r = sh("ip -n " + ns + " link set dev dv-b xdpdrv obj " + XDP_PASS_OBJ + " sec xdp");
    ASSERT_EQ(r.status, 0) << r.output;
    r = sh("ip -n " + ns + " link set dev dv-d xdpgeneric obj " + XDP_PASS_OBJ + " sec xdp");
    ASSERT_EQ(r.status, 0) << r.output;
    auto id_of = [&](const std::string& dev) {
        return number_in(in_ns("ip -d link show dev " + dev), "prog/xdp id ([0-9]+)");
    };
    auto l = list();
    EXPECT_EQ(l["dv-b"].facts["XDP program"], "'not_xcap_pass' (id " + std::to_string(id_of("dv-b")) + ", native mode)")
        << last_output;
    EXPECT_EQ(l["dv-d"].facts["XDP program"],
              "'not_xcap_pass' (id " + std::to_string(id_of("dv-d")) + ", generic mode)");
    EXPECT_EQ(l["dv-a"].facts["XDP program"], "none");

    bool family = false;
    auto kernel = netdev_dump(ns, &family);
    for (const char* dev : {"dv-a", "dv-b", "dv-c", "dv-d"}) {
        expect_features_match(l, dev, kernel, family);
    }
    if (family) {
        // A program on dv-b makes dv-a a target for XDP_REDIRECT (veth.c:
        // ndo-xmit follows the peer's program); xcap reads it live.
        std::string f = l["dv-a"].facts["XDP features"];
        EXPECT_NE(f.find("ndo-xmit"), std::string::npos) << f;
        EXPECT_NE(f.find("ndo-xmit-sg"), std::string::npos) << f;
    }
}

TEST_F(DevicesTest, OtherOptionsOnTheLineAreIgnoredAsTcpdumpDoes) {
    auto r = sh("ip netns exec " + ns + " " + XCAP_BIN + " -i no-such-if -D 2>&1");
    EXPECT_EQ(r.status, 0) << r.output;
    EXPECT_NE(r.output.find(".dv-a (test uplink) ["), std::string::npos) << r.output;
    r = sh(std::string(XCAP_BIN) + " --list-interfaces=x 2>&1");
    EXPECT_EQ(r.status, 2) << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << "one line:\n" << r.output;
}

#if defined(__x86_64__)
// Runs `xcap -D` with socket(AF_NETLINK, *, NETLINK_GENERIC) failing with
// `err` (a seccomp filter, as a container's policy would), stdout and
// stderr into the two files; returns the exit status.
int list_with_generic_netlink_denied(int err, const std::string& out, const std::string& errfile) {
    pid_t pid = fork();
    if (pid == 0) {
        int o = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int e = open(errfile.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(o, 1);
        dup2(e, 2);
        sock_filter code[] = {
            BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
            BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_socket, 0, 5),
            BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, args[0])),
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AF_NETLINK, 0, 3),
            BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, args[2])),
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NETLINK_GENERIC, 0, 1),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (uint32_t(err) & SECCOMP_RET_DATA)),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        };
        sock_fprog prog{uint16_t(sizeof(code) / sizeof(code[0])), code};
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) {
            _exit(126);
        }
        execl(XCAP_BIN, XCAP_BIN, "-D", nullptr);
        _exit(127);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

// No root needed: a process may always narrow its own system calls.
TEST(DevicesFailure, AQueryTheKernelRefusesIsOneLineWithItsExitCode) {
    temp_dir dir;
    // A policy's EPERM: exit 4 (permission); any other error: exit 1.
    for (auto [err, code] : {std::pair{EPERM, 4}, std::pair{EPROTONOSUPPORT, 1}}) {
        SCOPED_TRACE(err);
        int status = list_with_generic_netlink_denied(err, dir.file("out"), dir.file("err"));
        ASSERT_NE(status, 126) << "seccomp unavailable";
        EXPECT_EQ(status, code);
        EXPECT_EQ(read_text(dir.file("out")), "") << "nothing half-listed";
        std::string e = read_text(dir.file("err"));
        EXPECT_EQ(std::count(e.begin(), e.end(), '\n'), 1) << e;
        EXPECT_EQ(e.rfind("xcap: reading XDP features from the kernel (netdev netlink, socket) failed: ", 0), 0u) << e;
        EXPECT_NE(e.find(std::strerror(err)), std::string::npos) << e;
    }
}
#endif

}  // namespace
