// xcap-mixgen: sends the deterministic mixed frames of frames.h out of an
// interface through AF_PACKET, one pinned thread per CPU, so that with XPS
// set per CPU each thread's frames leave (and reach a veth peer) on its own
// queue. For the tests and the demo; never pointed at a real network.
//
//   xcap-mixgen -i IF -n COUNT [--threads N] [--pps RATE] [--small | --jumbo] [--start SEQ]
//
// Thread t sends the frames whose sequence number s has s % N == t, in
// increasing order, pinned to CPU t. Prints one line per thread:
// "thread T cpu C sent K", then "sent TOTAL".
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "frames.h"

namespace {

int64_t now_ns() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

[[noreturn]] void usage() {
    std::fprintf(stderr, "usage: xcap-mixgen -i IF -n COUNT [--threads N] [--pps RATE] [--small | --jumbo] [--start SEQ]\n");
    std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
    std::string ifname;
    uint64_t count = 0;
    unsigned threads = 2;
    double pps = 0;
    bool small = false;
    bool jumbo = false;  // build_jumbo_frame: up to 9018 bytes, for MTU 9000
    uint32_t start = 0;
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
        } else if (a == "--threads") {
            threads = unsigned(std::atoi(next()));
        } else if (a == "--pps") {
            pps = std::atof(next());
        } else if (a == "--small") {
            small = true;
        } else if (a == "--jumbo") {
            jumbo = true;
        } else if (a == "--start") {
            start = uint32_t(std::strtoul(next(), nullptr, 10));
        } else {
            usage();
        }
    }
    unsigned ifindex = if_nametoindex(ifname.c_str());
    if (ifindex == 0 || count == 0 || threads == 0) {
        std::fprintf(stderr, "xcap-mixgen: need an existing -i interface, -n > 0 and --threads > 0\n");
        return 2;
    }
    unsigned ncpu = std::thread::hardware_concurrency();
    std::vector<uint64_t> sent(threads, 0);
    std::atomic<bool> failed{false};
    std::vector<std::thread> pool;
    const int64_t t0 = now_ns();
    for (unsigned t = 0; t < threads; ++t) {
        pool.emplace_back([&, t] {
            cpu_set_t set;
            CPU_ZERO(&set);
            CPU_SET(t % (ncpu ? ncpu : 1), &set);
            pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
            int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);  // protocol 0: send only
            if (fd < 0) {
                std::perror("xcap-mixgen: socket");
                failed = true;
                return;
            }
            sockaddr_ll sll{};
            sll.sll_family = AF_PACKET;
            sll.sll_ifindex = int(ifindex);
            sll.sll_halen = ETH_ALEN;
            // Each thread's share of the rate.
            double gap_ns = pps > 0 ? 1e9 * threads / pps : 0;
            uint64_t k = 0;
            for (uint64_t s = start + t; s < start + count; s += threads, ++k) {
                if (gap_ns > 0) {
                    int64_t due = t0 + int64_t(double(k) * gap_ns);
                    while (now_ns() < due) {
                        timespec nap{0, 50'000};
                        nanosleep(&nap, nullptr);
                    }
                }
                auto f = small   ? xcap::test::build_small_frame(uint32_t(s))
                         : jumbo ? xcap::test::build_jumbo_frame(uint32_t(s))
                                 : xcap::test::build_frame(uint32_t(s));
                while (sendto(fd, f.data(), f.size(), 0, reinterpret_cast<sockaddr*>(&sll), sizeof(sll)) < 0) {
                    if (errno != ENOBUFS && errno != EAGAIN) {
                        std::perror("xcap-mixgen: sendto");
                        failed = true;
                        close(fd);
                        return;
                    }
                    sched_yield();
                }
                ++sent[t];
            }
            close(fd);
        });
    }
    uint64_t total = 0;
    for (unsigned t = 0; t < threads; ++t) {
        pool[t].join();
    }
    for (unsigned t = 0; t < threads; ++t) {
        std::printf("thread %u cpu %u sent %llu\n", t, t % (ncpu ? ncpu : 1), (unsigned long long)sent[t]);
        total += sent[t];
    }
    std::printf("sent %llu\n", (unsigned long long)total);
    return failed ? 1 : 0;
}
