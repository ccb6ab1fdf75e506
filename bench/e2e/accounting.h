#pragma once
// Where CPU time and packets are counted: the machine's busy ticks, a
// process's own CPU, the children's, the kernel's NET_RX softirq time (a
// BPF timer), and the replay sink's counters. Single-threaded.
#include <sys/resource.h>
#include <sys/types.h>
#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

#include "util.h"

struct softirq_time_bpf;

namespace xcap::e2e {

// Busy and total ticks of the whole machine (/proc/stat: user, nice, system,
// irq, softirq, steal count as busy).
struct machine_ticks {
    uint64_t busy = 0, total = 0;
    static machine_ticks read() {
        std::ifstream f("/proc/stat");
        std::string cpu;
        uint64_t v[10] = {};
        f >> cpu;
        for (auto& x : v) {
            f >> x;
        }
        machine_ticks t;
        t.busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
        t.total = t.busy + v[3] + v[4];
        return t;
    }
};

inline double ticks_s(uint64_t ticks) { return double(ticks) / double(sysconf(_SC_CLK_TCK)); }

// utime and stime of a process, all its threads (dead ones included), in
// seconds. The kernel scales the sampled split so that the sum is the exact
// runtime, so the total is precise to a tick.
struct proc_cpu {
    double user_s = 0, sys_s = 0;
    bool ok = false;
    double total() const { return user_s + sys_s; }
    static proc_cpu read(pid_t pid) {
        proc_cpu c;
        std::string stat = read_text("/proc/" + std::to_string(pid) + "/stat");
        size_t close = stat.rfind(')');
        if (close == std::string::npos) {
            return c;
        }
        std::istringstream rest(stat.substr(close + 2));
        std::string field;
        for (int i = 3; i <= 15 && rest >> field; ++i) {
            if (i == 14) {
                c.user_s = ticks_s(std::stoull(field));
            }
            if (i == 15) {
                c.sys_s = ticks_s(std::stoull(field));
                c.ok = true;
            }
        }
        return c;
    }
};

// On-CPU time of a process's live threads in seconds, to the nanosecond
// (/proc/PID/task/*/schedstat, first field); -1 where the kernel has no
// schedstat. Exact where proc_cpu is precise to a tick (10 ms), which
// matters when a tool spends almost nothing (a filter that matches 1%).
double sched_s(pid_t pid);

// CPU time of every child reaped so far; around the generator's wait, the
// generator's own.
inline double children_cpu_s() {
    rusage ru{};
    getrusage(RUSAGE_CHILDREN, &ru);
    return double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// Exact NET_RX softirq time over a window (bench/softirq_time.bpf.c, raw
// tracepoints on softirq_entry/exit): the kernel's receive path, which runs
// mostly inside the generator's system calls and is nobody's own CPU time.
// Attached only while a capture run measures, so its small cost (two
// program runs per softirq, not per packet) touches nothing else.
class net_rx_timer {
public:
    net_rx_timer();
    ~net_rx_timer();
    net_rx_timer(const net_rx_timer&) = delete;
    net_rx_timer& operator=(const net_rx_timer&) = delete;

    bool ok() const { return _skel && _why.empty(); }
    const std::string& why() const { return _why; }

    bool start();
    // Seconds of NET_RX softirq on every CPU since start().
    double stop();

private:
    double total_s() const;

    softirq_time_bpf* _skel = nullptr;
    std::string _why;
    double _t0 = 0;
};

// What bench/xdp_drop.bpf.c counted since it was attached, summed over CPUs.
struct sink_totals {
    uint64_t packets = 0, first_ns = 0, last_ns = 0;
};

std::optional<sink_totals> read_sink(unsigned prog_id);

}  // namespace xcap::e2e
