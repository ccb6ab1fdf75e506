// xcap-flood: the project's load generator. Sends UDP frames of a chosen size
// out of an interface with BPF_PROG_RUN and BPF_F_TEST_XDP_LIVE_FRAMES (the
// technique of xdp-trafficgen), one thread per CPU, optionally paced.
//
//   xcap-flood -i IF -n COUNT [--size BYTES] [--pps RATE] [--cpus N] [--first-cpu C]
//              [--ports N] [--dst-mac MAC]
//
// On a veth the frames reach the peer only if the peer has an XDP program
// attached (native mode), and land on the peer's RX queue numbered by the
// sending CPU. Prints "sent N in S s (R Mpps)". --ports N makes the UDP
// destination port run through 9 .. 9+N-1 in turn (one frame in N to each,
// per sending CPU: for filter benchmarks); --dst-mac addresses the frames to
// the receiver (by default they carry 02:00:5e:00:00:02, which the stack
// drops as another host's). For benchmarks and tests in
// namespaces the caller made; never pointed at a real network.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <net/if.h>
#include <pthread.h>
#include <arpa/inet.h>
#include <sched.h>
#include <sys/socket.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "common/error.h"
#include "engine/live_frames.h"
#include "engine/xsk.h"
#include "xcap_gen.skel.h"

namespace {

int64_t now_ns() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

std::vector<uint8_t> udp_template(uint32_t size, const uint8_t dst[6]) {
    std::vector<uint8_t> f(size, 0);
    const uint8_t src[6] = {0x02, 0x00, 0x5e, 0x00, 0x00, 0x01};
    std::memcpy(f.data(), dst, 6);
    std::memcpy(f.data() + 6, src, 6);
    f[12] = 0x08;
    uint8_t* ip = f.data() + 14;
    uint16_t iplen = uint16_t(size - 14);
    ip[0] = 0x45;
    ip[2] = uint8_t(iplen >> 8);
    ip[3] = uint8_t(iplen);
    ip[8] = 64;
    ip[9] = 17;
    const uint8_t s4[4] = {198, 18, 0, 1}, d4[4] = {198, 18, 0, 2};
    std::memcpy(ip + 12, s4, 4);
    std::memcpy(ip + 16, d4, 4);
    uint32_t sum = 0;
    for (int i = 0; i < 20; i += 2) {
        sum += uint32_t(ip[i]) << 8 | ip[i + 1];
    }
    while (sum >> 16) {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    ip[10] = uint8_t(~sum >> 8);
    ip[11] = uint8_t(~sum);
    uint8_t* udp = ip + 20;
    udp[0] = 0x9c;  // 40000
    udp[1] = 0x40;
    udp[3] = 9;
    uint16_t ulen = uint16_t(iplen - 20);
    udp[4] = uint8_t(ulen >> 8);
    udp[5] = uint8_t(ulen);
    return f;
}

// Where the kernel refuses BPF_PROG_RUN on live frames (a hardened kernel
// may, even to root), a thread sends through an AF_XDP socket of its own in
// copy mode instead, on TX queue `queue` (on a veth, the peer's RX queue of
// the same number): its frames hold the template, and each one's sequence
// number and port are written just before it goes on the TX ring, as the
// program writes them. Slower per frame than live frames (the kernel builds
// an skb for each), and the frames reach a veth peer with or without an XDP
// program there. Returns the frames the kernel completed; throws failure.
struct socket_send {
    std::string ifname;
    uint32_t queue = 0;
    std::vector<uint8_t> frame;
    unsigned ports = 0;
};

uint64_t send_through_socket(const socket_send& how, uint64_t mine, double gap_ns, int64_t t0, uint64_t chunk) {
    xcap::xsk_config cfg;
    cfg.frame_size = 2048;
    cfg.frame_count = 4096;
    cfg.direction = xcap::xsk_direction::tx;
    xcap::xsk_queue q(how.ifname, how.queue, cfg, xcap::bind_mode::copy);
    const uint32_t len = uint32_t(how.frame.size());
    std::vector<uint64_t> free_frames;
    for (uint32_t i = 0; i < cfg.frame_count; ++i) {
        const uint64_t addr = uint64_t(i) * cfg.frame_size;
        std::memcpy(q.area() + addr, how.frame.data(), len);
        free_frames.push_back(addr);
    }
    xsk_ring_prod& tx = q.tx();
    xsk_ring_cons& comp = q.comp();
    uint64_t submitted = 0, completed = 0;
    auto reclaim = [&] {
        uint32_t idx = 0;
        const uint32_t n = xsk_ring_cons__peek(&comp, cfg.frame_count, &idx);
        for (uint32_t i = 0; i < n; ++i) {
            free_frames.push_back(*xsk_ring_cons__comp_addr(&comp, idx + i));
        }
        xsk_ring_cons__release(&comp, n);
        completed += n;
    };
    auto kick = [&] {
        if (sendto(q.fd(), nullptr, 0, MSG_DONTWAIT, nullptr, 0) < 0 && errno == ENOBUFS) {
            timespec nap{0, 2'000};
            nanosleep(&nap, nullptr);
        }
    };
    while (submitted < mine) {
        uint64_t n = std::min(chunk, mine - submitted);
        if (gap_ns > 0) {
            const int64_t due = t0 + int64_t(double(submitted) * gap_ns);
            while (now_ns() < due) {
                reclaim();
            }
            n = std::min<uint64_t>(n, std::max<uint64_t>(1, uint64_t(100'000 / gap_ns)));
        }
        reclaim();
        n = std::min<uint64_t>({n, free_frames.size(), 64});
        uint32_t idx = 0;
        if (n == 0 || xsk_ring_prod__reserve(&tx, uint32_t(n), &idx) != n) {
            kick();
            continue;
        }
        for (uint32_t i = 0; i < n; ++i) {
            const uint64_t addr = free_frames.back();
            free_frames.pop_back();
            uint8_t* f = q.area() + addr;
            const uint64_t seq = submitted + i;
            if (len >= 46) {
                const uint32_t be = htonl(uint32_t(seq));
                std::memcpy(f + 42, &be, 4);
            }
            if (how.ports) {
                const uint16_t port = htons(uint16_t(9 + seq % how.ports));
                std::memcpy(f + 36, &port, 2);
            }
            *xsk_ring_prod__tx_desc(&tx, idx + i) = xdp_desc{addr, len, 0};
        }
        xsk_ring_prod__submit(&tx, uint32_t(n));
        submitted += n;
        kick();
    }
    // Until the kernel has sent them all (a second at most).
    for (const int64_t end = now_ns() + 1'000'000'000; completed < submitted && now_ns() < end;) {
        kick();
        reclaim();
    }
    return completed;
}

// How many TX queues `ifname` has (1 when it cannot be read).
uint32_t tx_queues(const std::string& ifname) {
    uint32_t n = 0;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator("/sys/class/net/" + ifname + "/queues", ec)) {
        n += e.path().filename().string().starts_with("tx-");
    }
    return std::max<uint32_t>(n, 1);
}

[[noreturn]] void usage() {
    std::fprintf(stderr, "usage: xcap-flood -i IF -n COUNT [--size 60..1514] [--pps RATE] [--cpus N] [--first-cpu C] "
                         "[--ports N] [--dst-mac MAC]\n");
    std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
    std::string ifname;
    uint64_t count = 0;
    uint32_t size = 60;
    double pps = 0;
    unsigned cpus = 1;
    unsigned first_cpu = 0;
    unsigned ports = 0;
    uint8_t dst_mac[6] = {0x02, 0x00, 0x5e, 0x00, 0x00, 0x02};
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto next = [&]() -> const char* {
            if (i + 1 >= argc) {
                usage();
            }
            return argv[++i];
        };
        if (a == "-i") {
            ifname = next();
        } else if (a == "-n") {
            count = std::strtoull(next(), nullptr, 10);
        } else if (a == "--size") {
            size = uint32_t(std::atoi(next()));
        } else if (a == "--pps") {
            pps = std::atof(next());
        } else if (a == "--cpus") {
            cpus = unsigned(std::atoi(next()));
        } else if (a == "--first-cpu") {
            first_cpu = unsigned(std::atoi(next()));
        } else if (a == "--ports") {
            ports = unsigned(std::atoi(next()));
            if (ports == 0 || ports > 65000) {
                usage();
            }
        } else if (a == "--dst-mac") {
            unsigned m[6];
            if (std::sscanf(next(), "%x:%x:%x:%x:%x:%x", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]) != 6) {
                usage();
            }
            for (int k = 0; k < 6; ++k) {
                dst_mac[k] = uint8_t(m[k]);
            }
        } else {
            usage();
        }
    }
    unsigned ifindex = if_nametoindex(ifname.c_str());
    if (!ifindex || !count || size < 60 || size > 1514 || cpus == 0) {
        usage();
    }
    libbpf_set_print(nullptr);
    xcap_gen_bpf* skel = xcap_gen_bpf__open();
    if (skel) {
        skel->rodata->dport_span = ports;
        if (xcap_gen_bpf__load(skel) != 0) {
            xcap_gen_bpf__destroy(skel);
            skel = nullptr;
        }
    }
    if (!skel) {
        std::fprintf(stderr, "xcap-flood: cannot load the generator program: %s\n", std::strerror(errno));
        return 1;
    }
    const int prog = bpf_program__fd(skel->progs.xcap_gen);
    // Every BPF_PROG_RUN of an XDP program that no interface uses swaps it
    // into the kernel's XDP dispatcher and out again, each with a
    // synchronize_rcu(): milliseconds per call, which held one thread to
    // ~0.15 Mpps. Attaching the program (through a bpf_link, gone when we
    // exit) to this namespace's loopback keeps it in the dispatcher. lo
    // carries no traffic in a test namespace, so it never runs there.
    bpf_link* keep = bpf_program__attach_xdp(skel->progs.xcap_gen, int(if_nametoindex("lo")));
    if (!keep) {
        std::fprintf(stderr, "xcap-flood: warning: cannot pin the program in the XDP dispatcher (%s); "
                             "each run will be slow\n", std::strerror(errno));
    }
    const auto frame = udp_template(size, dst_mac);
    // Frames per BPF_PROG_RUN call: large enough to amortise the syscall,
    // small enough to pace at a few hundred microseconds.
    const uint64_t chunk = 4096;
    std::atomic<uint64_t> sent{0};
    std::atomic<bool> failed{false};
    std::once_flag said_fallback;
    const uint32_t queues = tx_queues(ifname);
    const int64_t t0 = now_ns();
    std::vector<std::thread> pool;
    for (unsigned c = 0; c < cpus; ++c) {
        pool.emplace_back([&, c] {
            cpu_set_t set;
            CPU_ZERO(&set);
            CPU_SET(first_cpu + c, &set);
            pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
            uint64_t mine = count / cpus + (c < count % cpus ? 1 : 0);
            const double gap_ns = pps > 0 ? 1e9 * cpus / pps : 0;  // per frame, this thread's share
            uint64_t done = 0;
            while (done < mine) {
                uint64_t n = std::min(chunk, mine - done);
                if (gap_ns > 0) {
                    int64_t due = t0 + int64_t(double(done) * gap_ns);
                    int64_t now;
                    while ((now = now_ns()) < due) {
                        if (due - now > 100'000) {
                            timespec nap{0, 50'000};
                            nanosleep(&nap, nullptr);
                        }
                    }
                    // Keep bursts short when paced: no more than 100 µs worth.
                    n = std::min<uint64_t>(n, std::max<uint64_t>(1, uint64_t(100'000 / gap_ns)));
                }
                if (const int err = xcap::run_live_frames(prog, ifindex, frame, n)) {
                    if (err == EPERM && done == 0) {
                        std::call_once(said_fallback, [] {
                            std::fprintf(stderr, "xcap-flood: the kernel refuses BPF_PROG_RUN on live frames; "
                                                 "sending through AF_XDP sockets in copy mode instead\n");
                        });
                        try {
                            done = send_through_socket({ifname, (first_cpu + c) % queues, frame, ports}, mine,
                                                       gap_ns, t0, chunk);
                        } catch (const std::exception& e) {
                            std::fprintf(stderr, "xcap-flood: %s\n", e.what());
                            failed = true;
                            return;
                        }
                        break;
                    }
                    std::fprintf(stderr, "xcap-flood: BPF_PROG_RUN failed: %s\n", std::strerror(err));
                    failed = true;
                    return;
                }
                done += n;
            }
            sent += done;
        });
    }
    for (auto& t : pool) {
        t.join();
    }
    double secs = double(now_ns() - t0) / 1e9;
    std::printf("sent %llu in %.3f s (%.3f Mpps)\n", (unsigned long long)sent.load(), secs,
                double(sent.load()) / secs / 1e6);
    if (keep) {
        bpf_link__destroy(keep);
    }
    xcap_gen_bpf__destroy(skel);
    return failed ? 1 : 0;
}
