#include "trace_support.h"

#include <bpf/bpf.h>
#include <linux/if_link.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <regex>

#include "common/error.h"
#include "engine/xdp_programs.h"
#include "netns_thread.h"
#include "sources/trace_recorder.h"
#include "xdp_actions.skel.h"
#include "xdp_actions_frags.skel.h"

namespace xcap::test {

bpffs_mount::bpffs_mount(const std::string& d) : dir(d) {
    ok = mkdir(dir.c_str(), 0700) == 0 && mount("bpf", dir.c_str(), "bpf", 0, "mode=700") == 0;
}

bpffs_mount::~bpffs_mount() {
    if (ok) {
        umount2(dir.c_str(), MNT_DETACH);
    }
    rmdir(dir.c_str());
}

user_program::user_program(const veth_pair& net, const std::string& pin, bool frags) : _pin(pin) {
    // The two builds have the same program and maps under the same names.
    auto use = [&](auto* skel) {
        if (skel) {
            _prog = skel->progs.xdp_actions;
            _hook = skel->maps.xdpcap_hook;
            _runs = skel->maps.action_runs;
            _multi = skel->maps.multi_buffer_runs;
        }
    };
    if (frags) {
        use(_frags_skel = xdp_actions_frags_bpf__open_and_load());
    } else {
        use(_skel = xdp_actions_bpf__open_and_load());
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

user_program::~user_program() {
    if (_link >= 0) {
        close(_link);
    }
    if (_prog && !_pin.empty()) {
        bpf_map__unpin(_hook, _pin.c_str());
    }
    xdp_actions_bpf__destroy(_skel);
    xdp_actions_frags_bpf__destroy(_frags_skel);
}

uint32_t user_program::id() const { return xcap::program_id(bpf_program__fd(_prog)); }

uint64_t user_program::multi_buffer_runs() const {
    uint32_t zero = 0;
    uint64_t n = 0;
    bpf_map_lookup_elem(bpf_map__fd(_multi), &zero, &n);
    return n;
}

std::vector<uint64_t> user_program::runs() const {
    std::vector<uint64_t> out;
    for (uint32_t i = 0; i < actions; ++i) {
        uint64_t n = 0;
        bpf_map_lookup_elem(bpf_map__fd(_runs), &i, &n);
        out.push_back(n);
    }
    return out;
}

uint64_t user_program::others() const {
    uint32_t i = actions;
    uint64_t n = 0;
    bpf_map_lookup_elem(bpf_map__fd(_runs), &i, &n);
    return n;
}

uint64_t user_program::total_runs() const {
    uint64_t n = 0;
    for (auto r : runs()) {
        n += r;
    }
    return n;
}

int user_program::hook_slots_used() const {
    int used = 0;
    for (uint32_t i = 0; i < actions; ++i) {
        uint32_t id = 0;
        used += bpf_map_lookup_elem(hook_fd(), &i, &id) == 0;
    }
    return used;
}

std::vector<uint8_t> test_frame(uint32_t i, const uint8_t dst_mac[6], size_t size) {
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

std::vector<uint8_t> rewritten(std::vector<uint8_t> f) {
    if (f[14 + 20 + 8] == 'r') {
        f[14 + 20 + 8] = 'R';
    }
    return f;
}

int64_t frame_number(const std::vector<uint8_t>& d) {
    if (d.size() < 14 + 20 + 8 + 5 || d[12] != 0x08 || d[14 + 9] != 17) {
        return -1;
    }
    const uint8_t* p = d.data() + 14 + 20 + 8;
    return int64_t(uint32_t(p[1]) << 24 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 8 | p[4]);
}

frame_sender::frame_sender(const veth_pair& net) {
    const std::string joined = run_in_netns(net.sender_ns(), [&] {
        _fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
        _ifindex = int(if_nametoindex(net.sender_if().c_str()));
    });
    EXPECT_EQ(joined, "");
}

frame_sender::~frame_sender() {
    if (_fd >= 0) {
        close(_fd);
    }
}

bool frame_sender::send(const std::vector<uint8_t>& f) const {
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

namespace {

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

}  // namespace

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

void Trace::prepare() { receiver_mac(*net, mac); }

child Trace::start_trace(std::vector<std::string> args, bool in_ns, const std::string& name) {
    args.insert(args.begin(), {XCAP_BIN, "trace"});
    // Up to 60 s: the guest is slow.
    return start(in_ns ? net->in_receiver(args) : args, name, "xcap: tracing ", 60);
}

void Trace::send_frames(const user_program& prog, uint32_t n, size_t size) {
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

int Trace::trace_while_sending(std::vector<std::string> args, bool in_ns, const user_program& prog, uint32_t n,
                               const std::string& name, size_t size, double timeout_s) {
    child c = start_trace(std::move(args), in_ns, name);
    send_frames(prog, n, size);
    c.signal(SIGINT);
    return c.wait(timeout_s);
}

void TraceFentry::prepare() {
    Trace::prepare();
    if (HasFatalFailure()) {
        return;
    }
    if (auto why = fentry_refused_reason(); !why.empty()) {
        GTEST_SKIP() << why;
    }
}

}  // namespace xcap::test
