// xcap trace end to end, in throwaway network namespaces: the tests' own XDP
// program (xdp_actions.bpf.c: action by UDP port, one byte rewritten, an
// xdpcap hook on its way out) runs on the receiving veth; frames the test
// builds itself are sent from the other end through an AF_PACKET socket, so
// every byte is known. Needs root; skips with the reason otherwise.
//
// Host lane (6.18, fentry refused): the refusal (exit 7, nothing loaded),
// the tap fallback where there is no program to trace, and the whole --hook
// path. Guest lane (6.1 under qemu, tests/vm): the same, plus fentry/fexit
// (TraceFentry.*), which skip with the reason wherever the kernel refuses
// them.
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <gtest/gtest.h>
#include <linux/if_link.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <algorithm>
#include <map>
#include <regex>

#include "sources/trace_recorder.h"
#include "common/error.h"
#include "engine/xdp_programs.h"
#include "frames.h"
#include "netns_test.h"
#include "netns_thread.h"
#include "pcap_file.h"
#include "xdp_actions.skel.h"
#include "xdp_actions_frags.skel.h"

#include <xdp/libxdp.h>

using namespace xcap::test;

namespace {

constexpr int actions = 5;
constexpr const char* action_names[] = {"XDP_ABORTED", "XDP_DROP", "XDP_PASS", "XDP_TX", "XDP_REDIRECT"};

// A bpffs of the test's own, mounted in its scratch directory (not under
// /sys, which `ip netns exec` remounts), unmounted however the test ends.
struct bpffs_mount {
    std::string dir;
    bool ok = false;
    explicit bpffs_mount(const std::string& d) : dir(d) {
        ok = mkdir(dir.c_str(), 0700) == 0 && mount("bpf", dir.c_str(), "bpf", 0, "mode=700") == 0;
    }
    ~bpffs_mount() {
        if (ok) {
            umount2(dir.c_str(), MNT_DETACH);
        }
        rmdir(dir.c_str());
    }
};

// The tests' XDP program on the receiving veth (native mode), through a
// bpf_link the test holds; its hook map pinned at `pin` when given. With
// `frags`, the build loaded as xdp.frags (for jumbo frames).
class user_program {
public:
    user_program(const veth_pair& net, const std::string& pin, bool frags = false) : _pin(pin) {
        if (frags) {
            _frags_skel = xdp_actions_frags_bpf__open_and_load();
            if (_frags_skel) {
                _prog = _frags_skel->progs.xdp_actions;
                _hook = _frags_skel->maps.xdpcap_hook;
                _runs = _frags_skel->maps.action_runs;
                _multi = _frags_skel->maps.multi_buffer_runs;
            }
        } else {
            _skel = xdp_actions_bpf__open_and_load();
            if (_skel) {
                _prog = _skel->progs.xdp_actions;
                _hook = _skel->maps.xdpcap_hook;
                _runs = _skel->maps.action_runs;
                _multi = _skel->maps.multi_buffer_runs;
            }
        }
        if (!_prog) {
            _error = std::string("cannot load xdp_actions: ") + std::strerror(errno);
            return;
        }
        if (!pin.empty() && bpf_map__pin(_hook, pin.c_str()) != 0) {
            _error = "cannot pin the hook map at " + pin;
            return;
        }
        int attach_errno = 0;  // errno is the joining thread's own
        const std::string joined = run_in_netns(net.receiver_ns(), [&] {
            int ifindex = int(if_nametoindex(net.receiver_if().c_str()));
            LIBBPF_OPTS(bpf_link_create_opts, o, .flags = XDP_FLAGS_DRV_MODE);
            _link = bpf_link_create(bpf_program__fd(_prog), ifindex, BPF_XDP, &o);
            attach_errno = errno;
        });
        if (!joined.empty()) {
            _error = joined;
        } else if (_link < 0) {
            _error = "cannot attach xdp_actions to " + net.receiver_if() + ": " + std::strerror(attach_errno);
        }
    }
    ~user_program() {
        if (_link >= 0) {
            close(_link);
        }
        if (_prog && !_pin.empty()) {
            bpf_map__unpin(_hook, _pin.c_str());
        }
        xdp_actions_bpf__destroy(_skel);
        xdp_actions_frags_bpf__destroy(_frags_skel);
    }
    bool ok() const { return _error.empty(); }
    const std::string& error() const { return _error; }
    uint32_t id() const { return xcap::program_id(bpf_program__fd(_prog)); }
    int hook_fd() const { return bpf_map__fd(_hook); }
    // Runs on a frame in several buffers.
    uint64_t multi_buffer_runs() const {
        uint32_t zero = 0;
        uint64_t n = 0;
        bpf_map_lookup_elem(bpf_map__fd(_multi), &zero, &n);
        return n;
    }

    // How many packets it ran for with each action (the tests' UDP only).
    std::vector<uint64_t> runs() const {
        std::vector<uint64_t> out;
        for (uint32_t i = 0; i < actions; ++i) {
            uint64_t n = 0;
            bpf_map_lookup_elem(bpf_map__fd(_runs), &i, &n);
            out.push_back(n);
        }
        return out;
    }
    // Packets that were not the tests' UDP (an ARP reply to the receiver's
    // own ARP request, when its stack answers a PASS frame with ICMP): it
    // passes them.
    uint64_t others() const {
        uint32_t i = actions;
        uint64_t n = 0;
        bpf_map_lookup_elem(bpf_map__fd(_runs), &i, &n);
        return n;
    }
    uint64_t total_runs() const {
        uint64_t n = 0;
        for (auto r : runs()) {
            n += r;
        }
        return n;
    }
    // Slots of the hook that hold a program.
    int hook_slots_used() const {
        int used = 0;
        for (uint32_t i = 0; i < actions; ++i) {
            uint32_t id = 0;
            used += bpf_map_lookup_elem(hook_fd(), &i, &id) == 0;
        }
        return used;
    }

private:
    std::string _pin;
    xdp_actions_bpf* _skel = nullptr;
    xdp_actions_frags_bpf* _frags_skel = nullptr;
    bpf_program* _prog = nullptr;
    bpf_map* _hook = nullptr;
    bpf_map* _runs = nullptr;
    bpf_map* _multi = nullptr;
    int _link = -1;
    std::string _error;
};

// Frame `i` of a test run: Ethernet/IPv4/UDP 198.18.0.1 -> 198.18.0.2, to
// port 9000 + i % 6 (9005: no rule, PASS), payload 'r' (odd i: the program
// makes it 'R') or 'k', then the number i, padded to `size` bytes.
std::vector<uint8_t> test_frame(uint32_t i, const uint8_t dst_mac[6], size_t size = 64) {
    std::vector<uint8_t> f(std::max<size_t>(size, 14 + 20 + 8 + 8), 0);
    std::memcpy(f.data(), dst_mac, 6);
    const uint8_t src[6] = {0x02, 0, 0x5e, 0x10, 0, 1};
    std::memcpy(f.data() + 6, src, 6);
    f[12] = 0x08;
    uint8_t* ip = f.data() + 14;
    const uint16_t ip_len = uint16_t(f.size() - 14);
    ip[0] = 0x45;
    ip[2] = uint8_t(ip_len >> 8);
    ip[3] = uint8_t(ip_len);
    ip[8] = 64;
    ip[9] = 17;
    const uint8_t saddr[4] = {198, 18, 0, 1}, daddr[4] = {198, 18, 0, 2};
    std::memcpy(ip + 12, saddr, 4);
    std::memcpy(ip + 16, daddr, 4);
    uint32_t sum = 0;
    for (int k = 0; k < 20; k += 2) {
        sum += uint32_t(ip[k] << 8 | ip[k + 1]);
    }
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    ip[10] = uint8_t(~sum >> 8);
    ip[11] = uint8_t(~sum);
    uint8_t* udp = ip + 20;
    const uint16_t port = uint16_t(9000 + i % 6);
    udp[0] = 0x9c;
    udp[1] = 0x40;  // source port 40000
    udp[2] = uint8_t(port >> 8);
    udp[3] = uint8_t(port);
    udp[4] = uint8_t((ip_len - 20) >> 8);
    udp[5] = uint8_t(ip_len - 20);
    uint8_t* payload = udp + 8;
    payload[0] = i % 2 ? 'r' : 'k';
    payload[1] = uint8_t(i >> 24);
    payload[2] = uint8_t(i >> 16);
    payload[3] = uint8_t(i >> 8);
    payload[4] = uint8_t(i);
    return f;
}

int expected_action(uint32_t i) { return i % 6 < 5 ? int(i % 6) : 2; }

// The frame as the program leaves it.
std::vector<uint8_t> rewritten(std::vector<uint8_t> f) {
    if (f[14 + 20 + 8] == 'r') {
        f[14 + 20 + 8] = 'R';
    }
    return f;
}

// The number a test frame carries, or -1.
int64_t frame_number(const std::vector<uint8_t>& d) {
    if (d.size() < 14 + 20 + 8 + 5 || d[12] != 0x08 || d[14 + 9] != 17) {
        return -1;
    }
    const uint8_t* p = d.data() + 14 + 20 + 8;
    return int64_t(uint32_t(p[1]) << 24 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 8 | p[4]);
}

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

// An AF_PACKET socket in the sender's namespace, sending on its veth.
class frame_sender {
public:
    explicit frame_sender(const veth_pair& net) {
        const std::string joined = run_in_netns(net.sender_ns(), [&] {
            _fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
            _ifindex = int(if_nametoindex(net.sender_if().c_str()));
        });
        EXPECT_EQ(joined, "");
    }
    ~frame_sender() {
        if (_fd >= 0) {
            close(_fd);
        }
    }
    bool send(const std::vector<uint8_t>& f) const {
        sockaddr_ll to{};
        to.sll_family = AF_PACKET;
        to.sll_ifindex = _ifindex;
        to.sll_halen = 6;
        std::memcpy(to.sll_addr, f.data(), 6);
        for (int tries = 0; tries < 1000; ++tries) {
            if (sendto(_fd, f.data(), f.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof(to)) == ssize_t(f.size())) {
                return true;
            }
            if (errno != ENOBUFS && errno != EAGAIN) {
                return false;
            }
            usleep(1000);  // the qdisc is full: let it drain
        }
        return false;
    }

private:
    int _fd = -1;
    int _ifindex = 0;
};

// One Enhanced Packet Block of a pcapng file with the options xcap writes.
struct epb {
    uint32_t interface = 0;
    uint32_t orig_len = 0;
    std::vector<uint8_t> data;
    uint32_t flags = 0;
    bool has_verdict = false;
    uint8_t verdict_type = 0;
    uint64_t verdict = 0;
    bool has_id = false;
    uint64_t packet_id = 0;
    uint32_t queue = 0;
    uint64_t dropcount = 0;
    std::string comment;
};

// Every EPB of a little-endian pcapng file (the host's order, as xcap writes).
std::vector<epb> read_epbs(const std::string& path, std::string* error) {
    std::ifstream in(path, std::ios::binary);
    std::vector<uint8_t> b((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto u32 = [&](size_t o) { uint32_t v; std::memcpy(&v, &b[o], 4); return v; };
    auto u16 = [&](size_t o) { uint16_t v; std::memcpy(&v, &b[o], 2); return v; };
    std::vector<epb> out;
    size_t pos = 0;
    while (pos + 12 <= b.size()) {
        uint32_t type = u32(pos), len = u32(pos + 4);
        if (len < 12 || len % 4 || pos + len > b.size()) {
            *error = "bad block at offset " + std::to_string(pos);
            return out;
        }
        if (type == 6) {
            epb e;
            e.interface = u32(pos + 8);
            uint32_t cap = u32(pos + 20);
            e.orig_len = u32(pos + 24);
            e.data.assign(b.begin() + long(pos + 28), b.begin() + long(pos + 28 + cap));
            size_t o = pos + 28 + ((cap + 3) & ~3u);
            while (o + 4 <= pos + len - 4) {
                uint16_t code = u16(o), olen = u16(o + 2);
                if (code == 0) {
                    break;
                }
                const uint8_t* v = &b[o + 4];
                if (code == 1) {
                    e.comment.assign(reinterpret_cast<const char*>(v), olen);
                } else if (code == 2) {
                    std::memcpy(&e.flags, v, 4);
                } else if (code == 5) {
                    e.has_id = true;
                    std::memcpy(&e.packet_id, v, 8);
                } else if (code == 4) {
                    std::memcpy(&e.dropcount, v, 8);
                } else if (code == 6) {
                    std::memcpy(&e.queue, v, 4);
                } else if (code == 7) {
                    e.has_verdict = true;
                    e.verdict_type = v[0];
                    std::memcpy(&e.verdict, v + 1, 8);
                }
                o += 4 + ((olen + 3u) & ~3u);
            }
            out.push_back(std::move(e));
        }
        pos += len;
    }
    return out;
}

// The receiver's MAC address.
void receiver_mac(const veth_pair& net, uint8_t mac[6]) {
    auto r = sh("ip netns exec " + net.receiver_ns() + " cat /sys/class/net/" + net.receiver_if() + "/address");
    unsigned m[6] = {};
    ASSERT_EQ(std::sscanf(r.output.c_str(), "%x:%x:%x:%x:%x:%x", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]), 6)
        << r.output;
    for (int k = 0; k < 6; ++k) {
        mac[k] = uint8_t(m[k]);
    }
}

// Why fentry/fexit cannot be tried here: "" when this kernel loads them on
// an XDP program (checked with xcap's own recorder on the tests' program).
std::string fentry_refused_reason() {
    libbpf_set_print(nullptr);  // the refusal is the answer, not noise
    xdp_actions_bpf* skel = xdp_actions_bpf__open_and_load();
    if (!skel) {
        return "cannot load the tests' XDP program";
    }
    std::string why;
    try {
        xcap::xdp_program_ref ref;
        ref.fd.reset(dup(bpf_program__fd(skel->progs.xdp_actions)));
        ref.id = xcap::program_id(ref.fd.get());
        ref.name = "xdp_actions";
        ref.function = xcap::program_function_name(ref.fd.get());
        xcap::recorder_options o;
        o.ring_bytes = 1 << 16;
        std::vector<xcap::xdp_program_ref> targets;
        targets.push_back(std::move(ref));
        xcap::fentry_recorder r(targets, o);
    } catch (const xcap::failure& e) {
        why = std::string("this kernel refuses fentry/fexit on XDP programs (") + e.what() +
              "); the guest lane (tests/vm) runs these tests";
    }
    xdp_actions_bpf__destroy(skel);
    return why;
}

// Loaded BPF programs whose name starts with `prefix`.
int programs_named(const std::string& prefix) {
    int n = 0;
    uint32_t id = 0;
    while (bpf_prog_get_next_id(id, &id) == 0) {
        int fd = bpf_prog_get_fd_by_id(id);
        if (fd < 0) {
            continue;
        }
        bpf_prog_info info{};
        uint32_t len = sizeof(info);
        if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0 && std::string(info.name).rfind(prefix, 0) == 0) {
            ++n;
        }
        close(fd);
    }
    return n;
}

void expect_one_line(const std::string& err, const std::string& part) {
    EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
    EXPECT_NE(err.find(part), std::string::npos) << err;
}

// The summary's action line of `who`, as {action: count}.
std::map<int, uint64_t> summary_actions(const std::string& err, const std::string& who) {
    std::map<int, uint64_t> m;
    std::smatch s;
    const std::string escaped = std::regex_replace(who, std::regex(R"([.^$|()\[\]{}*+?\\])"), R"(\$&)");
    std::regex re(escaped + ": XDP_PASS ([0-9]+), XDP_DROP ([0-9]+), XDP_TX ([0-9]+), XDP_REDIRECT ([0-9]+), XDP_ABORTED ([0-9]+)");
    if (!std::regex_search(err, s, re)) {
        ADD_FAILURE() << "no action line for " << who << " in:\n" << err;
        return m;
    }
    m[2] = std::stoull(s[1]);
    m[1] = std::stoull(s[2]);
    m[3] = std::stoull(s[3]);
    m[4] = std::stoull(s[4]);
    m[0] = std::stoull(s[5]);
    return m;
}

class Trace : public netns_test {
protected:
    void prepare() override { receiver_mac(*net, mac); }

    // Starts `xcap trace ARGS` (in the receiver's namespace when `in_ns`),
    // and waits for its "tracing" line.
    child start_trace(std::vector<std::string> args, bool in_ns, const std::string& name = "trace") {
        args.insert(args.begin(), {XCAP_BIN, "trace"});
        // Up to 60 s: the guest is slow.
        return start(in_ns ? net->in_receiver(args) : args, name, "xcap: tracing ", 60);
    }

    // Sends frames [0, n) and waits until the program ran for them all.
    void send_frames(const user_program& prog, uint32_t n, size_t size = 64) {
        frame_sender s(*net);
        const uint64_t before = prog.total_runs();
        for (uint32_t i = 0; i < n; ++i) {
            ASSERT_TRUE(s.send(test_frame(i, mac, size))) << "frame " << i << ": " << std::strerror(errno);
        }
        for (int i = 0; i < 600 && prog.total_runs() < before + n; ++i) {
            usleep(50'000);
        }
        ASSERT_EQ(prog.total_runs(), before + n) << "the program did not see every frame";
    }

    uint8_t mac[6] = {};
};

}  // namespace

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
        std::istringstream lines(t.output);
        std::string line;
        size_t k = 0;
        while (std::getline(lines, line) && k < recs.size()) {
            if (line.empty() || !std::isdigit(static_cast<unsigned char>(line[0]))) {
                continue;  // tshark's own notes (run_command merges stderr)
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
    {
        child c = start_trace({"--hook", hook, "-w", path("t2.pcapng")}, false, "second");
        send_frames(prog, n);
        c.signal(SIGINT);
        ASSERT_EQ(c.wait(60), 0) << read_text(path("second.err"));
    }
    std::string err = read_text(path("second.err"));
    EXPECT_NE(err.find("left by an xcap trace that is gone; emptying it"), std::string::npos) << err;
    EXPECT_EQ(prog.hook_slots_used(), 0);
    std::string error;
    EXPECT_EQ(read_epbs(path("t2.pcapng"), &error).size(), n + prog.others());
}

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

// ---- fentry/fexit: where the kernel allows them (the guest lane) ------------

class TraceFentry : public Trace {
protected:
    void prepare() override {
        Trace::prepare();
        if (HasFatalFailure()) {
            return;
        }
        if (auto why = fentry_refused_reason(); !why.empty()) {
            GTEST_SKIP() << why;
        }
    }
};

// Every packet at entry (byte-identical to what was sent) and at exit (as
// the program made it, with its action), entry and exit sharing an id; the
// summary counts match the program's own.
TEST_F(TraceFentry, EveryPacketAtEntryAndExit) {
    user_program prog(*net, "");
    ASSERT_TRUE(prog.ok()) << prog.error();
    const uint32_t n = 300;
    {
        child c = start_trace({"-i", net->receiver_if(), "-w", path("t.pcapng")}, true);
        send_frames(prog, n);
        c.signal(SIGINT);
        ASSERT_EQ(c.wait(60), 0) << read_text(path("trace.err"));
    }
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
    {
        child c = start_trace({"-i", net->receiver_if(), "-w", path("t.pcapng"), "--at", "exit"}, true);
        send_frames(prog, n);
        c.signal(SIGINT);
        ASSERT_EQ(c.wait(60), 0) << read_text(path("trace.err"));
    }
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
    {
        child c = start_trace({"-i", net->receiver_if(), "-w", path("t.pcapng"), "--ring-size", "4k"}, true);
        send_frames(prog, n, 1000);
        c.signal(SIGINT);
        ASSERT_EQ(c.wait(120), 0) << read_text(path("trace.err"));
    }
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
// remounts /sys).
TEST_F(TraceFentry, ProgramPicksOneBehindTheDispatcher) {
    bpffs_mount fs(path("bpffs"));
    ASSERT_TRUE(fs.ok) << "cannot mount a bpffs: " << std::strerror(errno);
    setenv("LIBXDP_BPFFS", fs.dir.c_str(), 1);
    struct env_reset {
        ~env_reset() { unsetenv("LIBXDP_BPFFS"); }
    } reset;
    xdp_program* progs[2] = {xdp_program__open_file(XDP_ACTIONS_OBJ, "xdp", nullptr),
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

// A filter expression with fentry/fexit: each matching packet at entry (as
// sent) and at exit (as the program left it), under one id; nothing else;
// the summary counts every other packet as not matching, and tcpdump -r of
// the file with the same expression selects every record.
TEST_F(TraceFentry, FilterRecordsMatchingPacketsAtEntryAndExit) {
    user_program prog(*net, "");
    ASSERT_TRUE(prog.ok()) << prog.error();
    const uint32_t n = 300;
    const std::string expr = "udp dst port 9001 or udp dst port 9003";
    {
        child c = start_trace({"-i", net->receiver_if(), "-w", path("t.pcapng"), expr}, true);
        send_frames(prog, n);
        c.signal(SIGINT);
        ASSERT_EQ(c.wait(60), 0) << read_text(path("trace.err"));
    }
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
    {
        child c = start_trace({"-i", net->receiver_if(), "-w", path("t.pcapng"), "--at", "exit", "udp[8] = 0x52"},
                              true);
        send_frames(prog, n);
        c.signal(SIGINT);
        ASSERT_EQ(c.wait(60), 0) << read_text(path("trace.err"));
    }
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
