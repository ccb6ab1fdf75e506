// xcap-bench: the end-to-end harness. In a throwaway pair of network
// namespaces joined by a 2-queue veth pair it measures xcap against tcpdump
// (-B 65536 -w) and netsniff-ng (capture) and tcpreplay (--topspeed -K,
// replay), all in the same run, with the project's own generator (xcap-flood:
// BPF_PROG_RUN live frames, paced with --pps).
//
//   xcap-bench [--out DIR] [--quick] [--phases LIST] [--tools LIST] [--max-minutes M]
//
// Phases, in this order (--phases picks some, comma-separated):
//   equal    every tool offered the same paced rate; own and machine CPU per packet
//   profile  perf record -g of xcap at 1.0 Mpps, 64 B (a run of its own, so perf's
//            cost never reaches a figure above)
//   ladder   highest lossless rate at 64, 512 and 1500 bytes, stepping the paced rate
//   budget   the same at 64 bytes with each tool limited to 30% of one core (cgroup)
//   zero     5,000,000 64-byte packets at the generator's top rate: xcap paced, then
//            every tool unpaced in turn, three rounds (the generator's rate against each)
//   tap      xcap --tap against tcpdump and netsniff-ng (all leave packets to the
//            stack): highest lossless rate at 64 and 1500 bytes, own and machine CPU
//   jumbo    9,014-byte frames at MTU 9000 (xcap replay as the generator): highest
//            lossless rate and own and machine CPU per packet of each tool
//   disk     1514 B at 0.6 Mpps (8,000,000) and 64 B at 1.2 Mpps written to a disk
//            folder (not tmpfs), page cache dropped before each run, beside dd's
//            direct-write rate
//   rotate   1514 B at 0.3 Mpps into the same folder as -C 100 files (xcap, with
//            --buffer-len 1g and 0, tcpdump) and as one file (xcap): what rotating costs
//   replay   xcap replay --topspeed against tcpreplay --topspeed -K, wall clock
//   pacing   xcap replay --pps 100000: send-time error p50/p99/max
//   xdpdump  whether xdpdump can run here at all (it cannot on this kernel)
//
// Writes DIR/latest.md, latest.json, loss.png, cpu.png and profile-xcap-64B.txt.
// Bounded in packets and time; Ctrl-C stops it between runs, and everything it
// made (namespaces, cgroups, files) is removed on every path. Needs root.
//
// Layout: util (formatting, clocks), accounting (CPU time, the softirq
// timer, the replay sink), cpu_budget (cgroups), harness + tools (the shared
// namespaces, and running and measuring one capture tool), one file per
// scenario (equal, profile, lossless, filter, replay, xdpdump, micro), report
// (latest.md, latest.json), plots (loss.png, cpu.png), and this file, which
// lists the scenarios in the order they run. A new scenario is a new file
// and one line here.
#include <signal.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <set>

#include "disk.h"
#include "equal.h"
#include "jumbo.h"
#include "filter.h"
#include "harness.h"
#include "lossless.h"
#include "micro.h"
#include "profile.h"
#include "replay.h"
#include "tap.h"
#include "xdpdump.h"

using namespace xcap::e2e;

namespace {

// Every scenario, in the order they run (latest.md orders them by section()).
std::vector<std::unique_ptr<scenario>> all_scenarios() {
    std::vector<std::unique_ptr<scenario>> v;
    v.push_back(std::make_unique<xdpdump_probe>());
    v.push_back(std::make_unique<equal_rate>());
    v.push_back(std::make_unique<xcap_profile>());
    v.push_back(std::make_unique<lossless>());
    v.push_back(std::make_unique<tap_bench>());
    v.push_back(std::make_unique<jumbo_bench>());
    v.push_back(std::make_unique<disk_bench>());
    v.push_back(std::make_unique<filter_bench>());
    v.push_back(std::make_unique<replay_bench>());
    v.push_back(std::make_unique<micro_table>());
    return v;
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::unique_ptr<scenario>> scenarios = all_scenarios();
    std::set<std::string> known;
    std::string phase_list;  // in section order, as latest.md has them
    std::vector<const scenario*> by_section;
    for (const auto& s : scenarios) {
        by_section.push_back(s.get());
    }
    std::stable_sort(by_section.begin(), by_section.end(),
                     [](const scenario* a, const scenario* b) { return a->section() < b->section(); });
    for (const scenario* s : by_section) {
        for (const auto& p : s->phases()) {
            known.insert(p);
            phase_list += (phase_list.empty() ? "" : ",") + p;
        }
    }
    harness::options opt;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--out" && i + 1 < argc) {
            opt.out = argv[++i];
        } else if (a == "--quick") {
            opt.quick = true;
        } else if (a == "--phases" && i + 1 < argc) {
            for (const auto& p : split(argv[++i])) {
                if (!known.count(p)) {
                    std::fprintf(stderr, "xcap-bench: no phase %s\n", p.c_str());
                    return 2;
                }
                opt.phases.insert(p);
            }
        } else if (a == "--max-minutes" && i + 1 < argc) {
            opt.max_minutes = std::atof(argv[++i]);
        } else if (a == "--tools" && i + 1 < argc) {
            opt.tools = split(argv[++i]);
        } else {
            std::fprintf(stderr,
                         "usage: xcap-bench [--out DIR] [--quick] [--phases %s] [--tools xcap,tcpdump,netsniff-ng] "
                         "[--max-minutes M (default 20)]\n",
                         phase_list.c_str());
            return 2;
        }
    }
    if (auto why = netns_unavailable_reason(); !why.empty()) {
        std::fprintf(stderr, "xcap-bench: %s\n", why.c_str());
        return 1;
    }
    struct sigaction sa{};
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    sigaction(SIGHUP, &sa, nullptr);
    harness h(std::move(opt), std::move(scenarios));
    return h.run();
}
