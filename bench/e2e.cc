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
//   zero     xcap, 5,000,000 64-byte packets at the generator's top rate
//   replay   xcap replay --topspeed against tcpreplay --topspeed -K, wall clock
//   pacing   xcap replay --pps 100000: send-time error p50/p99/max
//   xdpdump  whether xdpdump can run here at all (it cannot on this kernel)
//
// Writes DIR/latest.md, latest.json, loss.png, cpu.png and profile-xcap-64B.txt.
// Bounded in packets and time; Ctrl-C stops it between runs, and everything it
// made (namespaces, cgroups, files) is removed on every path. Needs root.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "bench_sink.h"
#include "frames.h"
#include "netns.h"
#include "pcap/reader.h"
#include "pcap/savefile.h"
#include "softirq_time.skel.h"

using namespace xcap;
using namespace xcap::test;

namespace {

volatile sig_atomic_t g_interrupted = 0;

void on_signal(int) { g_interrupted = 1; }

const char* const k_tools[] = {"xcap", "tcpdump", "netsniff-ng"};

std::string fmt(const char* f, auto... args) {
    int n = std::snprintf(nullptr, 0, f, args...);
    std::string b(size_t(std::max(n, 0)) + 1, '\0');
    std::snprintf(b.data(), b.size(), f, args...);
    b.resize(size_t(std::max(n, 0)));
    return b;
}

int64_t mono_ns() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

void nap_ms(int ms) {
    timespec ts{ms / 1000, (ms % 1000) * 1'000'000L};
    nanosleep(&ts, nullptr);
}

std::string one_line(std::string s) {
    std::replace(s.begin(), s.end(), '\n', ' ');
    while (!s.empty() && s.back() == ' ') {
        s.pop_back();
    }
    return s;
}

std::string json_str(const std::string& s) {
    std::string o = "\"";
    for (char c : s) {
        if (c == '"' || c == '\\') {
            o += '\\';
            o += c;
        } else if (uint8_t(c) < 0x20) {
            o += fmt("\\u%04x", unsigned(uint8_t(c)));
        } else {
            o += c;
        }
    }
    return o + "\"";
}

bool write_file(const std::string& path, const std::string& text) {
    std::ofstream f(path);
    f << text;
    f.flush();
    return bool(f);
}

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

double ticks_s(uint64_t ticks) { return double(ticks) / double(sysconf(_SC_CLK_TCK)); }

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

// CPU time of every child reaped so far; around the generator's wait, the
// generator's own.
double children_cpu_s() {
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
    net_rx_timer() {
        _skel = softirq_time_bpf::open_and_load();
        if (!_skel) {
            _why = std::string("cannot load the softirq timer: ") + std::strerror(errno);
        }
    }
    ~net_rx_timer() {
        if (_skel) {
            softirq_time_bpf::destroy(_skel);
        }
    }
    net_rx_timer(const net_rx_timer&) = delete;
    net_rx_timer& operator=(const net_rx_timer&) = delete;

    bool ok() const { return _skel && _why.empty(); }
    const std::string& why() const { return _why; }

    bool start() {
        if (!_skel) {
            return false;
        }
        if (softirq_time_bpf::attach(_skel) != 0) {
            _why = std::string("cannot attach the softirq timer: ") + std::strerror(errno);
            return false;
        }
        _t0 = total_s();
        return true;
    }
    // Seconds of NET_RX softirq on every CPU since start().
    double stop() {
        double d = total_s() - _t0;
        softirq_time_bpf::detach(_skel);
        return d;
    }

private:
    double total_s() const {
        std::vector<bench_softirq_time> per_cpu(size_t(std::max(libbpf_num_possible_cpus(), 1)));
        uint32_t key = 0;
        if (bpf_map__lookup_elem(_skel->maps.net_rx_time, &key, sizeof(key), per_cpu.data(),
                                 per_cpu.size() * sizeof(bench_softirq_time), 0) != 0) {
            return 0;
        }
        uint64_t ns = 0;
        for (const auto& t : per_cpu) {
            ns += t.total_ns;
        }
        return double(ns) / 1e9;
    }

    softirq_time_bpf* _skel = nullptr;
    std::string _why;
    double _t0 = 0;
};

// A child cgroup that holds a capture tool to `percent` of one core, made for
// one run and removed when it ends (the destructor moves anything still in it
// back to the parent first). cgroup v2's cpu.max where the v2 hierarchy has
// the cpu controller; otherwise the v1 cpu controller's CFS quota, which is
// the same kernel mechanism (CFS bandwidth control, 100 ms period).
class cpu_budget {
public:
    static constexpr uint64_t period_us = 100'000;

    explicit cpu_budget(int percent) {
        static int counter = 0;
        const std::string name = "xcap-bench-" + std::to_string(getpid()) + "-" + std::to_string(counter++);
        const uint64_t quota = period_us * uint64_t(percent) / 100;
        std::string v2 = mount_of("cgroup2", "");
        std::string why_not_v2;
        if (v2.empty()) {
            why_not_v2 = "no cgroup v2 hierarchy is mounted";
        } else if (!has_word(read_text(v2 + "/cgroup.controllers"), "cpu")) {
            std::string v1 = mount_of("cgroup", "cpu");
            why_not_v2 = "the cgroup v2 hierarchy (" + v2 + ") has no cpu controller" +
                         (v1.empty() ? std::string() : "; it is bound to the cgroup v1 hierarchy at " + v1);
        }
        if (why_not_v2.empty()) {
            if (!has_word(read_text(v2 + "/cgroup.subtree_control"), "cpu")) {
                if (!write_file(v2 + "/cgroup.subtree_control", "+cpu")) {
                    _why = "cannot enable the cpu controller in " + v2 + "/cgroup.subtree_control: " + std::strerror(errno);
                    return;
                }
                _enabled_in = v2;
            }
            _parent = v2;
            _dir = v2 + "/" + name;
            if (mkdir(_dir.c_str(), 0755) != 0) {
                _why = "cannot make " + _dir + ": " + std::strerror(errno);
                _dir.clear();
                return;
            }
            if (!write_file(_dir + "/cpu.max", fmt("%" PRIu64 " %" PRIu64, quota, period_us))) {
                _why = "cannot write " + _dir + "/cpu.max";
                return;
            }
            _how = fmt("cgroup v2, cpu.max \"%" PRIu64 " %" PRIu64 "\"", quota, period_us);
            _ok = true;
            return;
        }
        std::string v1 = mount_of("cgroup", "cpu");
        if (v1.empty() || access((v1 + "/cpu.cfs_quota_us").c_str(), W_OK) != 0) {
            _why = why_not_v2 + ", and there is no writable cgroup v1 cpu controller either";
            return;
        }
        _parent = v1;
        _dir = v1 + "/" + name;
        if (mkdir(_dir.c_str(), 0755) != 0) {
            _why = "cannot make " + _dir + ": " + std::strerror(errno);
            _dir.clear();
            return;
        }
        if (!write_file(_dir + "/cpu.cfs_period_us", std::to_string(period_us)) ||
            !write_file(_dir + "/cpu.cfs_quota_us", std::to_string(quota))) {
            _why = "cannot set the CFS quota in " + _dir;
            return;
        }
        _how = fmt("cgroup v1 cpu controller, cpu.cfs_quota_us %" PRIu64 " per cpu.cfs_period_us %" PRIu64
                   " (cgroup v2's cpu.max is not available: %s)",
                   quota, period_us, why_not_v2.c_str());
        _ok = true;
    }

    ~cpu_budget() {
        if (!_dir.empty()) {
            // A tool still inside (a run cut short) goes back to the parent,
            // or the directory cannot be removed.
            std::istringstream procs(read_text(_dir + "/cgroup.procs"));
            for (std::string pid; procs >> pid;) {
                write_file(_parent + "/cgroup.procs", pid);
            }
            for (int i = 0; i < 100 && rmdir(_dir.c_str()) != 0 && errno == EBUSY; ++i) {
                nap_ms(20);
            }
        }
        if (!_enabled_in.empty()) {
            write_file(_enabled_in + "/cgroup.subtree_control", "-cpu");  // may fail if others use it: harmless
        }
    }
    cpu_budget(const cpu_budget&) = delete;
    cpu_budget& operator=(const cpu_budget&) = delete;

    bool ok() const { return _ok; }
    const std::string& why() const { return _why; }
    const std::string& how() const { return _how; }

    // Moves the whole process (every thread) into the group.
    bool move(pid_t pid) { return _ok && write_file(_dir + "/cgroup.procs", std::to_string(pid)); }

    // Periods in which the group ran out of quota.
    uint64_t throttled_periods() const {
        std::istringstream in(read_text(_dir + "/cpu.stat"));
        std::string key;
        uint64_t v;
        while (in >> key >> v) {
            if (key == "nr_throttled") {
                return v;
            }
        }
        return 0;
    }

    // Groups left by an earlier harness that was killed (SIGKILL cannot be
    // cleaned up after): removed when their owner is gone and they are empty.
    static void remove_stale() {
        for (const std::string& root : {mount_of("cgroup2", ""), mount_of("cgroup", "cpu")}) {
            if (root.empty()) {
                continue;
            }
            DIR* d = opendir(root.c_str());
            if (!d) {
                continue;
            }
            while (dirent* e = readdir(d)) {
                std::string n = e->d_name;
                if (n.rfind("xcap-bench-", 0) != 0) {
                    continue;
                }
                pid_t owner = pid_t(std::atoi(n.c_str() + 11));
                if (owner > 0 && kill(owner, 0) != 0 && errno == ESRCH) {
                    rmdir((root + "/" + n).c_str());
                }
            }
            closedir(d);
        }
    }

private:
    static bool has_word(const std::string& text, const std::string& word) {
        std::istringstream in(text);
        for (std::string w; in >> w;) {
            if (w == word) {
                return true;
            }
        }
        return false;
    }

    // Where a filesystem of `type` is mounted; for "cgroup" (v1), the one whose
    // options name `controller`.
    static std::string mount_of(const std::string& type, const std::string& controller) {
        std::istringstream in(read_text("/proc/self/mounts"));
        for (std::string line; std::getline(in, line);) {
            std::istringstream l(line);
            std::string dev, dir, t, opts;
            l >> dev >> dir >> t >> opts;
            if (t != type) {
                continue;
            }
            if (controller.empty()) {
                return dir;
            }
            std::istringstream o(opts);
            for (std::string opt; std::getline(o, opt, ',');) {
                if (opt == controller) {
                    return dir;
                }
            }
        }
        return "";
    }

    std::string _parent, _dir, _enabled_in, _why, _how;
    bool _ok = false;
};

// What bench/xdp_drop.bpf.c counted since it was attached, summed over CPUs.
struct sink_totals {
    uint64_t packets = 0, first_ns = 0, last_ns = 0;
};

std::optional<sink_totals> read_sink(unsigned prog_id) {
    int prog = bpf_prog_get_fd_by_id(prog_id);
    if (prog < 0) {
        return std::nullopt;
    }
    uint32_t map_ids[8] = {};
    bpf_prog_info info{};
    info.nr_map_ids = 8;
    info.map_ids = uint64_t(uintptr_t(map_ids));
    uint32_t len = sizeof(info);
    int rc = bpf_obj_get_info_by_fd(prog, &info, &len);
    close(prog);
    if (rc != 0) {
        return std::nullopt;
    }
    for (uint32_t i = 0; i < std::min<uint32_t>(info.nr_map_ids, 8); ++i) {
        int map = bpf_map_get_fd_by_id(map_ids[i]);
        if (map < 0) {
            continue;
        }
        bpf_map_info mi{};
        uint32_t mlen = sizeof(mi);
        if (bpf_obj_get_info_by_fd(map, &mi, &mlen) == 0 && std::string(mi.name) == "bench_sink") {
            int cpus = libbpf_num_possible_cpus();
            std::vector<bench_sink_stats> per_cpu(size_t(std::max(cpus, 1)));
            uint32_t key = 0;
            sink_totals t;
            if (bpf_map_lookup_elem(map, &key, per_cpu.data()) == 0) {
                for (const auto& s : per_cpu) {
                    if (s.packets == 0) {
                        continue;
                    }
                    t.packets += s.packets;
                    t.first_ns = t.first_ns ? std::min<uint64_t>(t.first_ns, s.first_ns) : s.first_ns;
                    t.last_ns = std::max<uint64_t>(t.last_ns, s.last_ns);
                }
                close(map);
                return t;
            }
        }
        close(map);
    }
    return std::nullopt;
}

struct run_spec {
    std::string phase;       // equal, ladder, budget, zero, profile
    std::string tool;
    uint32_t size = 64;
    double asked_mpps = 0;   // 0 = unpaced (the generator's top rate)
    uint64_t count = 0;
    bool budget = false;
    bool profile = false;
};

struct run_result {
    run_spec spec;
    uint64_t offered = 0;       // the generator's count
    double offered_mpps = 0;    // as the generator achieved it
    uint64_t delivered = 0;     // the receiving interface's rx_packets
    uint64_t written = 0;       // packets in the tool's file
    double own_user_s = 0, own_sys_s = 0;
    // Machine CPU spent on capturing: the tool's own and the kernel's receive
    // path (NET_RX softirq, timed exactly), over the flood and the drain.
    double machine_s = 0;
    double rx_softirq_s = -1;   // the receive path alone (-1: not measured)
    // Busy time of both cores over the flood (/proc/stat), plus the tool's
    // own CPU while it drained: the generator's spinning and whatever else
    // the machine ran meanwhile are in it.
    double machine_busy_s = 0;
    double generator_s = 0;     // the generator's CPU (it spins while paced)
    double window_s = 0;        // the measured window: flood and drain
    double setup_s = 0;         // start to ready, wall clock
    double setup_cpu_s = 0;     // CPU the tool spent getting ready
    int64_t tool_drops = -1;    // what the tool itself says it dropped (-1: not said)
    std::string drop_detail;    // and why, where it says
    uint64_t throttled = 0;     // budget runs: periods out of quota
    std::string error;

    bool lossless() const { return error.empty() && offered > 0 && written >= offered; }
    double loss_pct() const { return offered ? 100.0 * double(offered - std::min(offered, written)) / double(offered) : 0; }
    double own_ns() const { return written ? (own_user_s + own_sys_s) * 1e9 / double(written) : 0; }
    double own_user_ns() const { return written ? own_user_s * 1e9 / double(written) : 0; }
    double own_sys_ns() const { return written ? own_sys_s * 1e9 / double(written) : 0; }
    double machine_ns() const { return written ? machine_s * 1e9 / double(written) : 0; }
    double rx_ns() const { return written && rx_softirq_s >= 0 ? rx_softirq_s * 1e9 / double(written) : 0; }
    // The tool's CPU while the flood lasted, as a share of one core.
    double core_pct() const {
        return offered_mpps > 0 ? 100.0 * (own_user_s + own_sys_s) / (double(offered) / (offered_mpps * 1e6)) : 0;
    }
    double machine_busy_ns() const { return written ? machine_busy_s * 1e9 / double(written) : 0; }
    // Whether the generator got near the rate asked of it.
    bool reached() const { return spec.asked_mpps == 0 || offered_mpps >= 0.95 * spec.asked_mpps; }
};

struct ladder {
    std::string tool;
    uint32_t size = 64;
    bool budget = false;
    std::vector<run_result> runs;
    std::optional<double> best;     // highest offered rate with nothing lost
    double best_own_ns = 0;
    double best_core_pct = 0;       // the tool's CPU during that flood, % of one core
    uint64_t best_throttled = 0;    // budget: periods it ran out of quota in that run
    bool generator_limited = false; // the best is where the generator stopped, not the tool
    bool bounded = false;           // a run at a higher offered rate lost packets
    std::string note;
};

struct replay_result {
    std::string tool;
    uint64_t packets = 0;       // in the file
    uint64_t delivered = 0;     // counted by the receiver's sink
    double wall_s = 0;          // process start to the last packet delivered
    double first_s = 0;         // process start to the first packet delivered
    double send_mpps = 0;       // first to last delivered
    std::string reported;       // the tool's own rate line
    std::string error;
};

class bench {
public:
    bench(std::string out, bool quick, std::set<std::string> phases, std::vector<std::string> tools, double max_minutes)
        : _out(std::move(out)), _quick(quick), _phases(std::move(phases)), _tools(std::move(tools)), _net(2),
          _max_minutes(max_minutes) {}

    ~bench() {
        if (!_tmp.empty()) {
            sh("rm -rf " + quote(_tmp));
        }
        if (!_shm.empty() && _shm != _tmp) {
            sh("rm -rf " + quote(_shm));
        }
    }

    int run() {
        if (!_net.ok()) {
            std::fprintf(stderr, "xcap-bench: cannot make the namespaces: %s\n", _net.error().c_str());
            return 1;
        }
        char tmpl[] = "/tmp/xcap-bench-XXXXXX";
        _tmp = mkdtemp(tmpl) ? tmpl : "";
        char shm[] = "/dev/shm/xcap-bench-XXXXXX";
        _shm = mkdtemp(shm) ? shm : _tmp;
        if (_tmp.empty()) {
            std::fprintf(stderr, "xcap-bench: cannot make a temporary directory: %s\n", std::strerror(errno));
            return 1;
        }
        cpu_budget::remove_stale();
        _t_start = mono_ns();
        _wall_start = time(nullptr);
        _machine = describe_machine();
        _started_at = now_text();
        _load_start = one_line(sh("uptime").output);
        _background_pct = background_busy_pct();
        std::printf("%s\nload at start: %s; the cores were %.0f%% busy with other work over 2 s before the run\n",
                    _machine.c_str(), _load_start.c_str(), _background_pct);
        std::fflush(stdout);

        if (want("xdpdump")) {
            probe_xdpdump();
        }
        if (want("equal")) {
            equal_rate();
        }
        if (want("profile") && !g_interrupted) {
            profile();
        }
        if (want("ladder")) {
            ladders();
        }
        if (want("budget") && !g_interrupted) {
            budget_ladders();
        }
        if (want("zero") && !over_time()) {
            zero_loss();
        }
        if (want("replay") && !g_interrupted) {
            replays();
        }
        if (want("pacing") && !g_interrupted) {
            pacing_precision();
        }
        return finish();
    }

private:
    bool want(const std::string& phase) const { return _phases.empty() || _phases.count(phase); }
    bool want_tool(const std::string& tool) const {
        return _tools.empty() || std::find(_tools.begin(), _tools.end(), tool) != _tools.end();
    }

    static std::string now_text() {
        time_t t = time(nullptr);
        char b[64];
        strftime(b, sizeof(b), "%Y-%m-%d %H:%M UTC", gmtime(&t));
        return b;
    }

    std::string describe_machine() {
        std::string cpu;
        std::ifstream ci("/proc/cpuinfo");
        for (std::string line; std::getline(ci, line);) {
            if (line.rfind("model name", 0) == 0) {
                cpu = line.substr(line.find(':') + 2);
                break;
            }
        }
        utsname u{};
        uname(&u);
        return fmt("%s, %ld cores, Linux %s", cpu.c_str(), sysconf(_SC_NPROCESSORS_ONLN), u.release);
    }

    // How busy the machine is with work that is not ours, before we start.
    static double background_busy_pct() {
        auto a = machine_ticks::read();
        nap_ms(2000);
        auto b = machine_ticks::read();
        return b.total > a.total ? 100.0 * double(b.busy - a.busy) / double(b.total - a.total) : 0;
    }

    void attach(const std::string& obj) {
        sh("ip -n " + _net.receiver_ns() + " link set dev " + _net.receiver_if() + " xdpdrv obj " + obj + " sec xdp");
    }
    void detach() { sh("ip -n " + _net.receiver_ns() + " link set dev " + _net.receiver_if() + " xdpdrv off"); }

    // Waits until the process's CPU time has not risen for `quiet_ms`; returns
    // its CPU time then. False when it exits or `timeout_s` passes first.
    static bool wait_cpu_quiet(child& c, int quiet_ms, double timeout_s, proc_cpu* at) {
        proc_cpu last = proc_cpu::read(c.pid());
        int64_t changed = mono_ns();
        const int64_t deadline = mono_ns() + int64_t(timeout_s * 1e9);
        while (mono_ns() < deadline && !g_interrupted) {
            nap_ms(50);
            if (!c.running()) {
                return false;
            }
            proc_cpu now = proc_cpu::read(c.pid());
            if (now.total() != last.total()) {
                last = now;
                changed = mono_ns();
            } else if (mono_ns() - changed >= int64_t(quiet_ms) * 1'000'000) {
                *at = last;
                return true;
            }
        }
        *at = last;
        return false;
    }

    // Ready to capture: the tool's own sign that it is (xcap: its XDP program
    // is attached; tcpdump: "listening on"; netsniff-ng: its output file has
    // a header, which it writes after setting up its ring), and then its CPU
    // has stopped rising. netsniff-ng spends seconds of CPU faulting in a ring
    // of several GiB: a flood started before that is over is not captured.
    bool wait_ready(child& c, const std::string& tool, const std::string& file, const std::string& err,
                    double timeout_s, std::string* why) {
        const int64_t deadline = mono_ns() + int64_t(timeout_s * 1e9);
        bool sign = false;
        while (!sign && mono_ns() < deadline && !g_interrupted) {
            if (!c.running()) {
                *why = "exited at start: " + one_line(read_text(err));
                return false;
            }
            if (tool == "xcap") {
                sign = _net.receiver_has_xdp();
            } else if (tool == "tcpdump") {
                sign = read_text(err).find("listening on") != std::string::npos;
            } else {
                struct stat st{};
                sign = stat(file.c_str(), &st) == 0 && st.st_size >= 24;
            }
            if (!sign) {
                nap_ms(50);
            }
        }
        proc_cpu at;
        if (!sign || !wait_cpu_quiet(c, 300, double(deadline - mono_ns()) / 1e9, &at)) {
            *why = c.running() ? fmt("not ready after %.0f s", timeout_s) : "exited at start: " + one_line(read_text(err));
            return false;
        }
        return true;
    }

    run_result capture(const run_spec& spec) {
        run_result p;
        p.spec = spec;
        p.offered = spec.count;
        // On tmpfs: at 1500 bytes the file grows by gigabytes a second, and on
        // disk the page cache's dirty throttling, not the tool, would decide.
        const std::string file = _shm + "/" + spec.tool + ".pcap";
        const std::string out = _tmp + "/tool.out", err = _tmp + "/tool.err";
        sh("rm -f " + quote(file));
        std::vector<std::string> argv = {"taskset", "-c", "1"};
        if (spec.tool == "xcap") {
            argv.insert(argv.end(), {XCAP_BIN, "-q", "-i", _net.receiver_if(), "-w", file});
        } else {
            // The generator's frames only reach an interface with an XDP program.
            attach(XDP_PASS_OBJ);
            if (spec.tool == "tcpdump") {
                argv.insert(argv.end(), {"tcpdump", "-i", _net.receiver_if(), "-B", "65536", "-w", file});
            } else {
                argv.insert(argv.end(), {"netsniff-ng", "--in", _net.receiver_if(), "--out", file, "--silent"});
            }
        }
        // Declared before the tool so that it is removed after the tool is
        // killed and reaped, on every path out of here.
        std::optional<cpu_budget> budget;
        const int64_t t0 = mono_ns();
        child c(_net.in_receiver(argv), out, err);
        std::string why;
        if (!wait_ready(c, spec.tool, file, err, spec.budget ? 90 : 60, &why)) {
            p.error = why;
            finish_capture(c, spec.tool);
            return p;
        }
        p.setup_s = double(mono_ns() - t0) / 1e9;
        p.setup_cpu_s = proc_cpu::read(c.pid()).total();
        if (spec.budget) {
            // After set-up: the budget is about capturing, and netsniff-ng's
            // set-up alone would take 20 s at 30% of a core.
            budget.emplace(30);
            if (!budget->ok() || !budget->move(c.pid())) {
                p.error = "no CPU budget: " + (budget->ok() ? std::string("cannot move the tool into it") : budget->why());
                finish_capture(c, spec.tool);
                return p;
            }
            _budget_how = budget->how();
        }
        std::optional<child> perf;
        const std::string perf_data = _tmp + "/perf.data";
        if (spec.profile) {
            perf.emplace(std::vector<std::string>{"perf", "record", "-g", "-F", "10000", "-o", perf_data, "-p", std::to_string(c.pid())},
                         _tmp + "/perf.out", _tmp + "/perf.err");
            nap_ms(1000);  // perf needs a moment to open its events on every thread
        }
        const uint64_t rx0 = _net.receiver_rx_packets();
        const uint64_t throttled0 = budget ? budget->throttled_periods() : 0;
        const proc_cpu cpu0 = proc_cpu::read(c.pid());
        const auto m0 = machine_ticks::read();
        const double g0 = children_cpu_s();
        const bool timed = _rx_timer.start();
        const int64_t w0 = mono_ns();
        std::vector<std::string> gen = {FLOOD_BIN, "-i", _net.sender_if(), "-n", std::to_string(spec.count),
                                        "--size", std::to_string(spec.size), "--cpus", "1"};
        if (spec.asked_mpps > 0) {
            gen.insert(gen.end(), {"--pps", fmt("%.0f", spec.asked_mpps * 1e6)});
        }
        const double expect_s = double(spec.count) / ((spec.asked_mpps > 0 ? spec.asked_mpps : 1.0) * 1e6);
        {
            child g(_net.in_sender(gen), _tmp + "/gen.out", _tmp + "/gen.err");
            if (g.wait(expect_s * 3 + 30) != 0) {
                p.error = "generator failed: " + one_line(read_text(_tmp + "/gen.err"));
            }
        }
        // The machine over the flood only: a drain of a second or more would
        // add whatever else the machine does meanwhile. The tool's own work
        // after the flood is added back below.
        const auto m_end = machine_ticks::read();
        const proc_cpu cpu_end = proc_cpu::read(c.pid());
        p.generator_s = children_cpu_s() - g0;
        std::smatch m;
        std::string gout = read_text(_tmp + "/gen.out");
        if (std::regex_search(gout, m, std::regex("\\(([0-9.]+) Mpps\\)"))) {
            p.offered_mpps = std::stod(m[1]);
        }
        // Drain. tcpdump and netsniff-ng read a TPACKET_V3 ring, whose kernel
        // hands a block over only when it is full or its timeout (tcpdump's
        // 1000 ms) passes: stopping them sooner loses the last block, which
        // is the harness's fault, not theirs. Then until the tool's CPU stops
        // rising (a throttled tool drains slowly).
        nap_ms(spec.tool == "xcap" ? 200 : 1200);
        proc_cpu cpu1;
        wait_cpu_quiet(c, 300, spec.budget ? 30 : 15, &cpu1);
        const double rx = timed ? _rx_timer.stop() : -1;
        p.window_s = double(mono_ns() - w0) / 1e9;
        const uint64_t rx1 = _net.receiver_rx_packets();
        p.delivered = rx1 - rx0;
        p.own_user_s = cpu1.user_s - cpu0.user_s;
        p.own_sys_s = cpu1.sys_s - cpu0.sys_s;
        p.rx_softirq_s = rx;
        p.machine_s = (cpu1.total() - cpu0.total()) + std::max(rx, 0.0);
        p.machine_busy_s = ticks_s(m_end.busy - m0.busy) + (cpu1.total() - cpu_end.total());
        if (budget) {
            p.throttled = budget->throttled_periods() - throttled0;
        }
        if (perf) {
            perf->signal(SIGINT);
            perf->wait(60);
        }
        finish_capture(c, spec.tool);
        parse_tool_drops(p, read_text(out) + read_text(err));
        if (p.error.empty()) {
            try {
                capture_reader r(file);
                read_packet pk;
                while (r.next(pk)) {
                    ++p.written;
                }
            } catch (const read_error& e) {
                p.error = e.what();
            }
        }
        sh("rm -f " + quote(file));
        if (spec.profile && p.error.empty()) {
            keep_profile(perf_data);
        }
        return p;
    }

    // Stops the tool (SIGINT, as a user would) and takes the pass-through
    // program off again for the tools that needed it.
    void finish_capture(child& c, const std::string& tool) {
        c.signal(SIGINT);
        if (c.wait(60) < 0) {
            c.signal(SIGKILL);
            c.wait(10);
        }
        if (tool != "xcap") {
            detach();
        }
    }

    static void parse_tool_drops(run_result& p, const std::string& text) {
        std::smatch m;
        if (std::regex_search(text, m, std::regex("([0-9]+) packets? dropped: ([^\\n]*)"))) {  // xcap
            p.tool_drops = std::stoll(m[1]);
            if (p.tool_drops > 0) {
                // only the non-zero reasons
                std::string d = m[2];
                std::regex nz("([a-z_]+) ([1-9][0-9]*)");
                for (auto it = std::sregex_iterator(d.begin(), d.end(), nz); it != std::sregex_iterator(); ++it) {
                    p.drop_detail += (p.drop_detail.empty() ? "" : ", ") + (*it)[0].str();
                }
            }
        } else if (std::regex_search(text, m, std::regex("([0-9]+) packets? dropped by kernel"))) {  // tcpdump
            p.tool_drops = std::stoll(m[1]);
        } else if (std::regex_search(text, m, std::regex("([0-9]+) +packets failed filter \\(out of space\\)"))) {
            p.tool_drops = std::stoll(m[1]);  // netsniff-ng: ring full
        }
    }

    void print(const run_result& p) {
        const char* what = p.spec.budget ? " (30% of a core)" : "";
        if (!p.error.empty()) {
            std::printf("%-7s %-11s %4u B%s: %s\n", p.spec.phase.c_str(), p.spec.tool.c_str(), p.spec.size, what,
                        p.error.c_str());
        } else {
            std::printf("%-7s %-11s %4u B%s at %.3f Mpps (asked %.2f): %" PRIu64 "/%" PRIu64
                        " written (%.4f%% lost, tool says %" PRId64 " dropped), own %.0f ns/pkt (%.0f user + %.0f sys), "
                        "machine %.0f ns/pkt (receive path %.0f; all busy %.0f), set-up %.1f s / %.2f s CPU%s %s\n",
                        p.spec.phase.c_str(), p.spec.tool.c_str(), p.spec.size, what, p.offered_mpps, p.spec.asked_mpps,
                        p.written, p.offered, p.loss_pct(), p.tool_drops, p.own_ns(), p.own_user_ns(), p.own_sys_ns(),
                        p.machine_ns(), p.rx_ns(), p.machine_busy_ns(), p.setup_s, p.setup_cpu_s,
                        p.spec.budget ? fmt(", throttled %" PRIu64 " periods", p.throttled).c_str() : "",
                        p.drop_detail.c_str());
        }
        std::fflush(stdout);
    }

    // A full run must end in about 20 minutes on this machine; past the limit
    // the remaining steps are skipped (and the results say so).
    bool over_time() {
        if (!_out_of_time && double(mono_ns() - _t_start) / 60e9 > _max_minutes) {
            _out_of_time = true;
            std::printf("time limit of %.0f minutes reached: skipping the remaining steps\n", _max_minutes);
        }
        return _out_of_time || g_interrupted;
    }

    run_result measure(const run_spec& s) {
        auto r = capture(s);
        print(r);
        _all.push_back(r);
        return r;
    }

    // ---- equal rate ----------------------------------------------------

    void equal_rate() {
        struct point {
            uint32_t size;
            double mpps;
            uint64_t count;
        };
        std::vector<point> points = _quick ? std::vector<point>{{64, 0.5, 300'000}, {64, 1.0, 300'000},
                                                                 {512, 0.5, 200'000}, {1500, 0.25, 200'000}}
                                           : std::vector<point>{{64, 0.5, 3'000'000}, {64, 1.0, 3'000'000},
                                                                 {512, 0.5, 1'000'000}, {1500, 0.25, 1'000'000}};
        // Three rounds; in each the tools take turns at every point, so a
        // change in the machine's load falls on all of them alike, and each
        // figure is the median of its three runs.
        const int rounds = _quick ? 1 : 3;
        for (int round = 0; round < rounds; ++round) {
            for (const auto& pt : points) {
                for (const char* tool : k_tools) {
                    if (g_interrupted) {
                        return;
                    }
                    if (want_tool(tool)) {
                        _equal.push_back(measure({"equal", tool, pt.size, pt.mpps, pt.count}));
                    }
                }
            }
        }
    }

    // ---- profile ---------------------------------------------------------

    void profile() {
        if (!want_tool("xcap")) {
            return;
        }
        if (sh("perf --version").status != 0) {
            _profile_note = "perf is not installed (Debian: linux-perf)";
            return;
        }
        auto r = measure({"profile", "xcap", 64, 1.0, _quick ? 300'000u : 3'000'000u, false, true});
        if (!r.error.empty()) {
            _profile_note = "profile run failed: " + r.error;
        }
    }

    void keep_profile(const std::string& data) {
        const std::string report = _out + "/profile-xcap-64B.txt";
        mkdir(_out.c_str(), 0755);
        auto full = sh("perf report -i " + quote(data) + " --no-children --sort sym --stdio 2>/dev/null | head -60");
        write_file(report, full.output);
        // The flat list, for the summary: every symbol's own share.
        auto flat = sh("perf report -i " + quote(data) + " --no-children --sort sym --stdio -g none 2>/dev/null");
        std::istringstream in(flat.output);
        static const std::regex line_re("^\\s*([0-9.]+)%\\s+\\[([k.])\\]\\s+(.+?)\\s*$");
        double kernel = 0, user = 0;
        for (std::string line; std::getline(in, line);) {
            std::smatch m;
            if (std::regex_match(line, m, line_re)) {
                double pct = std::stod(m[1]);
                (m[2] == "k" ? kernel : user) += pct;
                if (_profile_top.size() < 12) {
                    _profile_top.push_back({m[3].str() + (m[2] == "k" ? " [kernel]" : " [user]"), pct});
                }
            }
        }
        _profile_kernel_pct = kernel;
        _profile_user_pct = user;
        std::smatch sm;
        if (std::regex_search(full.output, sm, std::regex("# Samples: ([0-9.]+[KM]?) +of event '([^']+)'"))) {
            _profile_samples = sm[1].str() + " samples of " + sm[2].str();
        }
    }

    // ---- ladders ---------------------------------------------------------

    uint64_t step_count(double mpps, bool budget) const {
        if (_quick) {
            return 200'000;
        }
        if (budget) {
            // Two seconds of traffic: twenty 100 ms quota periods.
            return std::clamp<uint64_t>(uint64_t(mpps * 2e6), 200'000, 1'000'000);
        }
        return 1'000'000;
    }

    // Steps the paced rate up until a run loses packets (a loss is run again
    // once: a lossless repeat makes it a transient, noted, and the climb goes
    // on; a second loss ends it), then tries the midpoint between the last
    // lossless step and the lossy one. Where the generator cannot reach the
    // rate asked, the climb ends there and the best is marked as the
    // generator's limit, not the tool's.
    ladder climb(const std::string& tool, uint32_t size, const std::vector<double>& rates, bool budget) {
        ladder l = climb_steps(tool, size, rates, budget);
        // The best is only a lower bound unless a run at a higher offered
        // rate lost packets: then the tool's limit lies between the two.
        // Unbounded, it is the generator's limit when a run fell short of the
        // rate asked (the climb ends when a shortfall gets no further), else
        // the top of the ladder.
        l.bounded = false;
        for (const auto& r : l.runs) {
            if (r.error.empty() && !r.lossless() && l.best && r.offered_mpps > *l.best) {
                l.bounded = true;
            }
        }
        l.generator_limited = false;
        if (!l.bounded && l.best) {
            for (const auto& r : l.runs) {
                if (r.lossless() && !r.reached()) {
                    l.generator_limited = true;  // asked for more, the generator got no further
                }
            }
        }
        return l;
    }

    ladder climb_steps(const std::string& tool, uint32_t size, const std::vector<double>& rates, bool budget) {
        ladder l;
        l.tool = tool;
        l.size = size;
        l.budget = budget;
        const std::string phase = budget ? "budget" : "ladder";
        std::optional<double> good_asked, bad_asked;
        auto take = [&](const run_result& r) {
            l.runs.push_back(r);
            if (r.lossless() && (!l.best || r.offered_mpps > *l.best)) {
                l.best = r.offered_mpps;
                l.best_own_ns = r.own_ns();
                l.best_core_pct = r.core_pct();
                l.best_throttled = r.throttled;
            }
        };
        for (size_t i = 0; i < rates.size() && !over_time(); ++i) {
            const double best_before = l.best.value_or(0);
            auto r = measure({phase, tool, size, rates[i], step_count(rates[i], budget), budget});
            take(r);
            if (!r.error.empty()) {
                l.note = r.error;
                return l;
            }
            if (r.lossless()) {
                good_asked = rates[i];
                // The generator's reach varies from run to run: a shortfall
                // ends the climb only once it no longer gets further.
                if (!r.reached() && r.offered_mpps < best_before * 1.03) {
                    l.generator_limited = true;
                    return l;
                }
                continue;
            }
            if (!_quick) {
                auto again = measure({phase, tool, size, rates[i], step_count(rates[i], budget), budget});
                take(again);
                if (again.lossless()) {
                    good_asked = rates[i];
                    if (!again.reached()) {
                        l.generator_limited = true;
                        return l;
                    }
                    continue;
                }
            }
            bad_asked = rates[i];
            break;
        }
        if (over_time() || _quick) {
            return l;
        }
        if (!good_asked && bad_asked) {
            // Lossy from the first step: look lower, twice.
            for (double r = *bad_asked / 2; r >= *bad_asked / 4 && !g_interrupted; r /= 2) {
                auto low = measure({phase, tool, size, r, step_count(r, budget), budget});
                take(low);
                if (low.lossless()) {
                    good_asked = r;
                    break;
                }
            }
        }
        if (good_asked && bad_asked && *bad_asked / *good_asked > 1.15) {
            double mid = (*good_asked + *bad_asked) / 2;
            take(measure({phase, tool, size, mid, step_count(mid, budget), budget}));
        }
        return l;
    }

    void ladders() {
        std::map<uint32_t, std::vector<double>> rates;
        if (_quick) {
            rates = {{64, {1.0, 2.0, 3.0}}, {512, {1.0, 2.0}}, {1500, {0.5, 1.0}}};
        } else {
            rates = {{64, {0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0}},
                     {512, {0.5, 1.0, 1.5, 2.0, 2.5, 3.0}},
                     {1500, {0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 2.5}}};
        }
        for (uint32_t size : {64u, 512u, 1500u}) {
            for (const char* tool : k_tools) {
                if (!over_time() && want_tool(tool)) {
                    _ladders.push_back(climb(tool, size, rates[size], false));
                }
            }
        }
    }

    void budget_ladders() {
        {
            cpu_budget probe(30);
            if (!probe.ok()) {
                _budget_how = "skipped: " + probe.why();
                std::printf("budget: %s\n", _budget_how.c_str());
                return;
            }
            _budget_how = probe.how();
        }
        // The tools spend 100-200 ns a packet at 64 B, so 30% of a core is
        // spent only from about 1.5-3 Mpps; below that the budget bites
        // through its 100 ms period: a tool out of quota sleeps up to 70 ms,
        // and what arrives meanwhile must fit in its buffer.
        std::vector<double> rates = _quick ? std::vector<double>{0.5, 1.5, 2.5}
                                           : std::vector<double>{0.25, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0};
        for (const char* tool : k_tools) {
            if (!over_time() && want_tool(tool)) {
                _budget.push_back(climb(tool, 64, rates, true));
            }
        }
    }

    // ---- zero loss at the top rate ----------------------------------------

    void zero_loss() {
        if (!want_tool("xcap")) {
            return;
        }
        // Paced at the rate asked where the generator got furthest against
        // xcap in the ladder (the generator sends faster paced, in bursts of
        // at most 100 us, than unpaced, in bursts of 4096 frames), then
        // unpaced: its own top speed.
        double asked = 2.5, best = 0;
        for (const auto& l : _ladders) {
            for (const auto& r : l.runs) {
                if (l.tool == "xcap" && l.size == 64 && r.error.empty() && r.offered_mpps > best) {
                    best = r.offered_mpps;
                    asked = r.spec.asked_mpps;
                }
            }
        }
        const uint64_t n = _quick ? 1'000'000 : 5'000'000;
        _zero.push_back(measure({"zero", "xcap", 64, asked, n}));
        if (!over_time()) {
            _zero.push_back(measure({"zero", "xcap", 64, 0, n}));
        }
    }

    // ---- replay ----------------------------------------------------------

    std::string make_file(uint32_t size, uint64_t n) {
        std::string path = _tmp + "/replay-" + std::to_string(size) + ".pcap";
        savefile_config cfg;
        cfg.path = path;
        savefile_set files(cfg, {}, {interface_description{}});
        for (uint64_t i = 0; i < n; ++i) {
            auto f = build_small_frame(uint32_t(i));
            f.resize(size);
            files.write(1'790'000'000'000'000'000ull + i * 1000, f.data(), size, {});
        }
        return path;
    }

    // Wall clock from the process's start to the last packet delivered: what a
    // user waits for, loading the file included. The receiver's sink program
    // stamps each packet, so nothing is polled while the tool runs.
    replay_result replay(const std::string& tool, const std::string& file, uint64_t n) {
        replay_result p;
        p.tool = tool;
        p.packets = n;
        attach(XDP_DROP_OBJ);
        unsigned prog_id = 0;
        if (!_net.receiver_has_xdp(&prog_id)) {
            p.error = "cannot attach the sink";
            return p;
        }
        std::vector<std::string> argv = {"taskset", "-c", "1"};
        if (tool == "tcpreplay") {
            argv.insert(argv.end(), {"tcpreplay", "--topspeed", "-K", "-i", _net.sender_if(), file});
        } else {
            argv.insert(argv.end(), {XCAP_BIN, "replay", "-q", "-i", _net.sender_if(), "-r", file, "--topspeed"});
        }
        const int64_t start = mono_ns();
        int rc;
        {
            child c(_net.in_sender(argv), _tmp + "/r.out", _tmp + "/r.err");
            rc = c.wait(300);
        }
        // The last frames may still be in the veth's queue as the tool exits.
        nap_ms(200);
        auto sink = read_sink(prog_id);
        detach();
        std::string out = read_text(_tmp + "/r.out") + read_text(_tmp + "/r.err");
        std::smatch m;
        if (tool == "tcpreplay") {
            if (std::regex_search(out, m, std::regex("Rated: [^\\n]*"))) {
                p.reported = m[0];
            }
        } else if (std::regex_search(out, m, std::regex("sent [0-9]+ packets [^\\n]*"))) {
            p.reported = m[0];
        }
        if (!sink || sink->packets == 0) {
            p.error = rc != 0 ? "failed: " + one_line(out).substr(0, 300) : "the sink counted nothing";
            return p;
        }
        p.delivered = sink->packets;
        p.wall_s = double(int64_t(sink->last_ns) - start) / 1e9;
        p.first_s = double(int64_t(sink->first_ns) - start) / 1e9;
        p.send_mpps = sink->last_ns > sink->first_ns ? double(sink->packets - 1) / (double(sink->last_ns - sink->first_ns) / 1e3) : 0;
        if (rc != 0) {
            p.error = "exit " + std::to_string(rc) + ": " + one_line(out).substr(0, 300);
        }
        return p;
    }

    void replays() {
        const uint64_t n = _quick ? 200'000 : 1'000'000;
        std::string file = make_file(64, n);
        // Each twice, alternating; the faster of each is reported (the other is
        // in latest.json): a busy neighbour slows a run, never speeds it up.
        for (int round = 0; round < 2 && !g_interrupted; ++round) {
            for (const char* tool : {"xcap replay", "tcpreplay"}) {
                auto r = replay(tool, file, n);
                std::printf("replay  %-11s 64 B: %" PRIu64 "/%" PRIu64 " delivered, %.3f s start to last packet "
                            "(first after %.3f s, then %.3f Mpps) %s %s\n",
                            r.tool.c_str(), r.delivered, r.packets, r.wall_s, r.first_s, r.send_mpps, r.reported.c_str(),
                            r.error.c_str());
                std::fflush(stdout);
                _replays.push_back(r);
            }
        }
        sh("rm -f " + quote(file));
    }

    const replay_result* best_replay(const std::string& tool) const {
        const replay_result* best = nullptr;
        for (const auto& r : _replays) {
            if (r.tool == tool && r.error.empty() && r.delivered == r.packets && (!best || r.wall_s < best->wall_s)) {
                best = &r;
            }
        }
        return best;
    }

    // How often the machine itself stops a running thread: a thread spinning
    // on CPU 1 notes every pause in its clock over 1 ms. On a VM whose vCPUs
    // the host deschedules, no sender can keep a schedule through those, so
    // the pacing figure is read beside this one.
    std::string machine_pauses() {
        uint64_t over_ms = 0, over_100us = 0;
        int64_t longest = 0;
        std::thread spin([&] {
            cpu_set_t set;
            CPU_ZERO(&set);
            CPU_SET(1, &set);
            pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
            const int64_t end = mono_ns() + 2'000'000'000;
            int64_t last = mono_ns();
            while (last < end) {
                int64_t now = mono_ns();
                int64_t gap = now - last;
                over_100us += gap > 100'000;
                over_ms += gap > 1'000'000;
                longest = std::max(longest, gap);
                last = now;
            }
        });
        spin.join();
        _pauses_per_s = double(over_ms) / 2;
        _longest_pause_ms = double(longest) / 1e6;
        return fmt("a thread spinning on CPU 1 for 2 s just before saw %" PRIu64 " pauses over 100 µs and %" PRIu64
                   " over 1 ms, the longest %.1f ms",
                   over_100us, over_ms, _longest_pause_ms);
    }

    void pacing_precision() {
        _pauses = machine_pauses();
        const uint64_t n = _quick ? 50'000 : 200'000;
        std::string file = make_file(64, n);
        attach(XDP_DROP_OBJ);
        {
            child c(_net.in_sender({XCAP_BIN, "replay", "-q", "-i", _net.sender_if(), "-r", file, "--pps", "100000"}),
                    _tmp + "/p.out", _tmp + "/p.err");
            c.wait(120);
        }
        detach();
        std::string out = read_text(_tmp + "/p.err");
        std::smatch m;
        if (std::regex_search(out, m, std::regex("p50 ([0-9.]+ (?:µs|ms)), p99 ([0-9.]+ (?:µs|ms)), max ([0-9.]+ (?:µs|ms))"))) {
            _pacing_p50 = m[1];
            _pacing_p99 = m[2];
            _pacing_max = m[3];
            _pacing = fmt("%" PRIu64 " packets at 100 kpps: send-time error p50 %s, p99 %s, max %s", n,
                          _pacing_p50.c_str(), _pacing_p99.c_str(), _pacing_max.c_str());
        } else {
            _pacing = "pacing run failed: " + one_line(out);
        }
        std::printf("pacing  %s\n", _pacing.c_str());
        sh("rm -f " + quote(file));
    }

    void probe_xdpdump() {
        if (sh("command -v xdpdump").status != 0) {
            _xdpdump = "not installed";
            return;
        }
        attach(XDP_PASS_OBJ);
        {
            child c(_net.in_receiver({"xdpdump", "-i", _net.receiver_if(), "-w", _shm + "/xdpdump.pcap"}),
                    _tmp + "/x.out", _tmp + "/x.err");
            if (c.wait(5) >= 0) {
                _xdpdump = "cannot run here: its fentry program on the interface's XDP program is refused (" +
                           one_line(read_text(_tmp + "/x.err")) +
                           "); its legacy mode needs an interface without an XDP program, which the generator's "
                           "frames need";
            } else {
                c.signal(SIGINT);
                c.wait(10);
                _xdpdump = "starts here, but is not measured: the harness has no way yet to tell it apart";
            }
        }
        detach();
        sh("rm -f " + quote(_shm + "/xdpdump.pcap"));
        std::printf("xdpdump: %s\n", _xdpdump.c_str());
    }

    // ---- results ---------------------------------------------------------

    // One tool at one equal-rate point: the medians of its runs.
    struct equal_stat {
        std::string tool;
        int runs = 0, lossless_runs = 0;
        double offered_mpps = 0, own = 0, own_lo = 0, own_hi = 0, rx = 0, machine = 0, worst_loss = 0;
        double setup_s = 0, setup_cpu_s = 0;
        std::string drops;  // what the tool said, for runs that lost packets
        bool lossless() const { return lossless_runs == runs; }
    };

    static double median(std::vector<double> v) {
        std::sort(v.begin(), v.end());
        return v.empty() ? 0 : v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
    }

    std::optional<equal_stat> equal_point(const std::string& tool, uint32_t size, double mpps) const {
        equal_stat st;
        st.tool = tool;
        std::vector<double> own, rx, machine, offered;
        for (const auto& r : _equal) {
            if (r.spec.tool != tool || r.spec.size != size || r.spec.asked_mpps != mpps || !r.error.empty() ||
                !r.written) {
                continue;
            }
            ++st.runs;
            st.lossless_runs += r.lossless();
            st.worst_loss = std::max(st.worst_loss, r.loss_pct());
            own.push_back(r.own_ns());
            rx.push_back(r.rx_ns());
            machine.push_back(r.machine_ns());
            offered.push_back(r.offered_mpps);
            st.setup_s = std::max(st.setup_s, r.setup_s);
            st.setup_cpu_s = std::max(st.setup_cpu_s, r.setup_cpu_s);
            if (!r.lossless()) {
                st.drops += (st.drops.empty() ? "" : "; ") + pct_text(r.loss_pct()) +
                            (r.tool_drops >= 0 ? fmt(", the tool counted %" PRId64, r.tool_drops) : std::string()) +
                            (r.drop_detail.empty() ? std::string() : " (" + r.drop_detail + ")");
            }
        }
        if (st.runs == 0) {
            return std::nullopt;
        }
        st.own = median(own);
        st.own_lo = *std::min_element(own.begin(), own.end());
        st.own_hi = *std::max_element(own.begin(), own.end());
        st.rx = median(rx);
        st.machine = median(machine);
        st.offered_mpps = median(offered);
        return st;
    }

    std::string equal_error(const std::string& tool, uint32_t size, double mpps) const {
        for (const auto& r : _equal) {
            if (r.spec.tool == tool && r.spec.size == size && r.spec.asked_mpps == mpps && !r.error.empty()) {
                return r.error;
            }
        }
        return "no run";
    }

    std::vector<std::pair<uint32_t, double>> equal_points() const {
        std::vector<std::pair<uint32_t, double>> pts;
        for (const auto& p : _equal) {
            if (std::find(pts.begin(), pts.end(), std::pair{p.spec.size, p.spec.asked_mpps}) == pts.end()) {
                pts.push_back({p.spec.size, p.spec.asked_mpps});
            }
        }
        return pts;
    }

    static std::string ladder_cell(const ladder& l) {
        if (!l.note.empty() && !l.best) {
            return "could not run: " + l.note;
        }
        if (!l.best) {
            double lowest = 1e9;
            for (const auto& r : l.runs) {
                lowest = std::min(lowest, r.spec.asked_mpps);
            }
            return fmt("none: lost packets even at %.3f Mpps", lowest);
        }
        if (l.generator_limited) {
            return fmt("**≥ %.2f Mpps** (the generator's limit)", *l.best);
        }
        if (!l.bounded) {
            return fmt("**≥ %.2f Mpps** (the top of the ladder)", *l.best);
        }
        return fmt("**%.2f Mpps**", *l.best);
    }

    static std::string ladder_steps(const ladder& l) {
        std::string s;
        for (const auto& r : l.runs) {
            if (!s.empty()) {
                s += ", ";
            }
            if (!r.error.empty()) {
                s += fmt("%.2f: failed", r.spec.asked_mpps);
            } else if (r.lossless()) {
                s += fmt("%.2f ok", r.offered_mpps);
            } else {
                s += fmt("%.2f lost %s", r.offered_mpps, pct_text(r.loss_pct()).c_str());
            }
        }
        return s;
    }

    static std::string pct_text(double pct) {
        if (pct >= 1) {
            return fmt("%.1f%%", pct);
        }
        if (pct >= 0.01) {
            return fmt("%.2f%%", pct);
        }
        return fmt("%.4f%%", pct);
    }

    static std::string json_run(const run_result& p) {
        return fmt("{\"phase\": %s, \"tool\": %s, \"frame\": %u, \"asked_mpps\": %.3f, \"budget\": %s, \"offered\": %" PRIu64
                   ", \"offered_mpps\": %.4f, \"delivered\": %" PRIu64 ", \"written\": %" PRIu64
                   ", \"loss_pct\": %.5f, \"own_user_s\": %.3f, \"own_sys_s\": %.3f, \"own_ns_per_pkt\": %.1f, "
                   "\"machine_s\": %.3f, \"machine_ns_per_pkt\": %.1f, \"machine_busy_s\": %.3f, \"machine_busy_ns_per_pkt\": %.1f, "
                   "\"rx_softirq_s\": %.4f, \"rx_softirq_ns_per_pkt\": %.1f, \"generator_s\": %.3f, \"window_s\": %.3f, "
                   "\"setup_s\": %.2f, \"setup_cpu_s\": %.2f, \"tool_drops\": %" PRId64 ", \"drop_detail\": %s, "
                   "\"throttled_periods\": %" PRIu64 ", \"error\": %s}",
                   json_str(p.spec.phase).c_str(), json_str(p.spec.tool).c_str(), p.spec.size, p.spec.asked_mpps,
                   p.spec.budget ? "true" : "false", p.offered, p.offered_mpps, p.delivered, p.written, p.loss_pct(),
                   p.own_user_s, p.own_sys_s, p.own_ns(), p.machine_s, p.machine_ns(), p.machine_busy_s, p.machine_busy_ns(),
                   p.rx_softirq_s, p.rx_ns(), p.generator_s, p.window_s, p.setup_s, p.setup_cpu_s, p.tool_drops,
                   json_str(p.drop_detail).c_str(), p.throttled, json_str(p.error).c_str());
    }

    void write_markdown(std::ostream& md, double minutes) {
        md << "# xcap-bench results\n\n";
        md << "Measured by `scripts/bench.sh`" << (_quick ? " (`--quick`: short runs, figures are rough)" : "")
           << " on " << _machine << ", " << _started_at << ", in " << fmt("%.1f", minutes) << " minutes.\n";
        if (_out_of_time) {
            md << fmt("**Cut short**: the run passed its limit of %.0f minutes and skipped the steps after that.\n",
                      _max_minutes);
        }
        md << "Machine load: `" << _load_start << "` at the start (the cores were " << fmt("%.0f", _background_pct)
           << "% busy with other work in the 2 s before the first run), `" << _load_end << "` at the end.\n\n";
        md << "Set-up: a throwaway pair of network namespaces joined by a 2-queue veth pair (198.18.0.0/15). The "
              "generator (`xcap-flood`, BPF_PROG_RUN live frames of UDP) runs on CPU 0, and the veth's receive work "
              "(each tool's kernel side: XDP redirect and copy into xcap's UMEM, or the skb and packet-socket copy "
              "for tcpdump and netsniff-ng) runs there too, in softirq; each capture tool runs on CPU 1 (`taskset`) "
              "and writes pcap to tmpfs. xcap runs with its defaults; tcpdump as `tcpdump -B 65536 -w`; netsniff-ng "
              "as `netsniff-ng --in IF --out FILE --silent`. Each tool is started, and the flood begins only once it "
              "is ready (its own sign, then its CPU time has not risen for 300 ms); after the flood the harness "
              "waits for the tool to drain (1.2 s for the TPACKET_V3 tools, whose kernel hands over a block only "
              "when it is full or after a timeout, then until the tool's CPU stops rising), and stops it with "
              "SIGINT.\n\n";
        md << "- **Own CPU**: the tool's utime+stime (/proc/PID/stat, all threads) over the flood and its drain "
              "only, per packet written. (The kernel keeps the sum exact; its user/system split is sampled at the "
              "tick and is in latest.json only.)\n";
        md << "- **Receive path**: the kernel's NET_RX softirq time on both cores over the same window, timed "
              "exactly by a raw-tracepoint program on softirq_entry/exit (`bench/softirq_time.bpf.c`), per packet "
              "written: the veth's receive work and each tool's kernel side (XDP redirect and the copy into xcap's "
              "UMEM; or the skb, the stack and the copy into the packet socket's ring for tcpdump and netsniff-ng). "
              "It runs mostly inside the generator's system calls, so it is in no tool's own CPU.\n";
        md << "- **Machine CPU** = own CPU + receive path: what capturing a packet costs the machine. The "
              "generator is left out: it sends the same frames at the same rate for every tool, and its pacing "
              "loop spins, so its CPU (and the plain /proc/stat busy time of the cores, which has it and any other "
              "job on the machine in it) says nothing about the tool; both are in latest.json (`generator_s`, "
              "`machine_busy_ns_per_pkt`). "
           << (_rx_timer.ok() ? std::string() : "Not measured in this run: " + _rx_timer.why() + ". ") << "\n";
        md << "- **Lossless** means every packet the generator sent is in the tool's file.\n\n";
        // Equal rate
        md << "## Equal rate: each tool offered the same paced rate\n\n";
        md << "Each point ran " << (_quick ? "once" : "three times") << ", the tools taking turns; the figures are "
              "medians (own CPU with its range), every run is in latest.json.\n\n";
        md << "| frame | rate offered | tool | lossless runs | own CPU ns/pkt (range) | receive path ns/pkt | machine CPU "
              "ns/pkt | losses | set-up before capturing (longest) |\n|---|---|---|---|---|---|---|---|---|\n";
        for (const auto& [size, mpps] : equal_points()) {
            for (const char* tool : k_tools) {
                auto st = equal_point(tool, size, mpps);
                if (!st) {
                    if (want_tool(tool)) {
                        md << fmt("| %u B | %g Mpps | %s | %s ||||||\n", size, mpps, tool, equal_error(tool, size, mpps).c_str());
                    }
                    continue;
                }
                md << fmt("| %u B | %.3f Mpps | %s | %d of %d | **%.0f** (%.0f-%.0f) | %.0f | **%.0f** | %s | %.1f s, %.2f s "
                          "CPU |\n",
                          size, st->offered_mpps, tool, st->lossless_runs, st->runs, st->own, st->own_lo, st->own_hi, st->rx,
                          st->machine, st->drops.empty() ? "none" : st->drops.c_str(), st->setup_s, st->setup_cpu_s);
            }
        }
        {
            double most_s = 0, most_cpu = 0;
            int n = 0;
            for (const auto& r : _all) {
                if (r.spec.tool == "netsniff-ng" && r.error.empty()) {
                    most_s = std::max(most_s, r.setup_s);
                    most_cpu = std::max(most_cpu, r.setup_cpu_s);
                    ++n;
                }
            }
            if (n) {
                md << fmt("\nnetsniff-ng's set-up took up to %.1f s (%.1f s of CPU) before it captured anything in this "
                          "run: it faults in a TPACKET_V3 ring sized from the machine's memory (2.4 GiB here). The "
                          "previous harness started the flood 1 s after starting it, so at 1500 B (the shortest "
                          "flood) the flood and its SIGINT both came during that set-up: netsniff-ng then opens its "
                          "file, writes the header and exits with 0 packets (reproduced by hand; its 0.47%% at 0.5 Mpps "
                          "and 11.9%% at 512 B fit the same late start, ending within the flood). That was the "
                          "harness's fault, not netsniff-ng's; the flood now waits until the tool is ready. Likewise "
                          "tcpdump's 0.008%% losses there were its last TPACKET_V3 block, not yet handed over when "
                          "SIGINT came 0.5 s after the flood (reproduced: 8 of 100,000 packets missing after a 0.1 s "
                          "wait, none after 1.5 s, and tcpdump counts them nowhere); the harness now waits 1.2 s.\n",
                          most_s, most_cpu);
            }
        }
        md << "\nxcap against the cheapest peer at each point (ratio < 1: xcap is cheaper):\n\n";
        md << "| frame @ rate | xcap own | cheapest peer, own | ratio | xcap machine | cheapest peer, machine | ratio |\n"
              "|---|---|---|---|---|---|---|\n";
        for (const auto& [size, mpps] : equal_points()) {
            auto x = equal_point("xcap", size, mpps);
            std::optional<equal_stat> own_best, mach_best;
            for (const char* peer : {"tcpdump", "netsniff-ng"}) {
                auto r = equal_point(peer, size, mpps);
                if (!r) {
                    continue;
                }
                if (!own_best || r->own < own_best->own) {
                    own_best = r;
                }
                if (!mach_best || r->machine < mach_best->machine) {
                    mach_best = r;
                }
            }
            if (!x || !own_best) {
                continue;
            }
            auto lossy = [](const equal_stat& r) {
                return r.lossless() ? std::string() : fmt(" (%d of %d runs lost)", r.runs - r.lossless_runs, r.runs);
            };
            md << fmt("| %u B @ %g Mpps | %.0f ns%s | %s %.0f ns%s | **%.2f** | %.0f ns | %s %.0f ns | **%.2f** |\n", size,
                      mpps, x->own, lossy(*x).c_str(), own_best->tool.c_str(), own_best->own, lossy(*own_best).c_str(),
                      x->own / own_best->own, x->machine, mach_best->tool.c_str(), mach_best->machine,
                      x->machine / mach_best->machine);
        }

        // Profile
        md << "\n## Where xcap's time goes (perf, 64 B at 1.0 Mpps)\n\n";
        if (_profile_top.empty()) {
            md << (_profile_note.empty() ? std::string("Not profiled in this run.") : _profile_note) << "\n";
        } else {
            md << "`perf record -g` of the xcap process during the flood, in a run of its own (perf's cost is in no "
                  "figure above); " << _profile_samples << "; `perf report --no-children --sort sym` in "
                  "`profile-xcap-64B.txt`. Kernel " << fmt("%.0f%%", _profile_kernel_pct) << ", user space "
               << fmt("%.0f%%", _profile_user_pct) << ". The top entries (own share):\n\n";
            md << "| share | symbol |\n|---|---|\n";
            for (const auto& [sym, pct] : _profile_top) {
                md << fmt("| %.1f%% | `%s` |\n", pct, sym.c_str());
            }
        }

        // Ladders
        md << "\n## Highest lossless rate, paced stepping\n\n";
        md << "The offered rate steps up (1,000,000 packets a step" << (_quick ? "; quick: 200,000" : "")
           << ") until a run loses packets; a loss is run once more, and a lossless repeat counts as a transient "
              "(listed) and the climb goes on; then the midpoint between the last lossless and the lossy step is "
              "tried. The generator shares its core with the veth's receive work, so it reaches less against a "
              "tool whose receive path costs that core more: where it fell short of the rate asked, the figure is "
              "the generator's limit, not the tool's.\n\n";
        md << "| tool | 64 B | 512 B | 1500 B |\n|---|---|---|---|\n";
        for (const char* tool : k_tools) {
            std::string row = std::string("| ") + tool;
            bool any = false;
            for (uint32_t size : {64u, 512u, 1500u}) {
                std::string cell = "-";
                for (const auto& l : _ladders) {
                    if (l.tool == tool && l.size == size) {
                        cell = ladder_cell(l);
                        if (l.best) {
                            cell += fmt(", own CPU %.0f ns/pkt there", l.best_own_ns);
                        }
                        any = true;
                    }
                }
                row += " | " + cell;
            }
            if (any) {
                md << row << " |\n";
            }
        }
        md << "\nEvery step (Mpps offered as the generator achieved it):\n\n";
        for (const auto& l : _ladders) {
            md << "- " << l.tool << ", " << l.size << " B: " << ladder_steps(l) << "\n";
        }

        // Budget
        md << "\n## Under a CPU budget: each tool limited to 30% of one core, 64 B\n\n";
        md << "How: " << (_budget_how.empty() ? std::string("not run") : _budget_how)
           << ". A child cgroup is made for each run, the tool is moved into it once it is ready (so netsniff-ng's "
              "set-up is not slowed), and the cgroup is removed after the tool exits. Steps of "
              "max(200,000, 2 s of traffic) packets, up to 1,000,000.\n\n";
        if (!_budget.empty()) {
            md << "| tool | lossless up to | own CPU there | share of a core it used there | periods out of quota "
                  "there | steps (Mpps offered) |\n|---|---|---|---|---|---|\n";
            for (const auto& l : _budget) {
                md << "| " << l.tool << " | " << ladder_cell(l) << " | "
                   << (l.best ? fmt("%.0f ns/pkt", l.best_own_ns) : std::string("-")) << " | "
                   << (l.best ? fmt("%.0f%%", l.best_core_pct) : std::string("-")) << " | "
                   << (l.best ? std::to_string(l.best_throttled) : std::string("-")) << " | " << ladder_steps(l)
                   << " |\n";
            }
        }

        // Zero loss
        md << "\n## Zero loss at the generator's top rate (xcap, 64 B, " << (_quick ? "1,000,000" : "5,000,000")
           << " packets)\n\n";
        if (_zero.empty()) {
            md << "Not run.\n";
        }
        for (const auto& z : _zero) {
            const std::string how = z.spec.asked_mpps > 0
                                        ? fmt("paced (asked %g Mpps: where the generator got furthest against xcap in the "
                                              "ladder)", z.spec.asked_mpps)
                                        : std::string("unpaced (the generator's own top speed, bursts of 4096 frames)");
            if (!z.error.empty()) {
                md << "- " << how << ": failed: " << z.error << "\n";
                continue;
            }
            md << fmt("- %s: %" PRIu64 " packets offered at %.3f Mpps, %" PRIu64 " written: **%s**; xcap counted %" PRId64
                      " dropped%s; own CPU %.0f ns/pkt.\n",
                      how.c_str(), z.offered, z.offered_mpps, z.written,
                      z.lossless() ? "no loss" : (pct_text(z.loss_pct()) + " lost").c_str(), z.tool_drops,
                      z.drop_detail.empty() ? "" : (" (" + z.drop_detail + ")").c_str(), z.own_ns());
        }

        // Replay
        md << "\n## Replay, --topspeed, 64 B\n\n";
        md << "`xcap replay -i IF -r FILE --topspeed` against `tcpreplay --topspeed -K -i IF FILE`, each on CPU 1, "
              "the same file; the receiving veth drops in XDP and its program stamps the first and the last "
              "packet. Wall clock is from the process's start to the last packet delivered (loading the file "
              "included). Each ran twice, alternating; the faster run is shown, all are in latest.json.\n\n";
        md << "| tool | packets delivered | start to last packet | start to first packet | rate while sending | the "
              "tool's own line |\n|---|---|---|---|---|---|\n";
        for (const char* tool : {"xcap replay", "tcpreplay"}) {
            const replay_result* r = best_replay(tool);
            if (!r) {
                for (const auto& x : _replays) {
                    if (x.tool == tool) {
                        md << "| " << tool << " | " << x.error << " |||||\n";
                        break;
                    }
                }
                continue;
            }
            md << fmt("| %s | %" PRIu64 " of %" PRIu64 " | **%.3f s** | %.3f s | %.3f Mpps | %s |\n", tool, r->delivered,
                      r->packets, r->wall_s, r->first_s, r->send_mpps, r->reported.c_str());
        }
        const replay_result *xr = best_replay("xcap replay"), *tr = best_replay("tcpreplay");
        if (xr && tr) {
            md << fmt("\nxcap replay delivers the file **%.2fx** as fast as tcpreplay, start to last packet "
                      "(%.2fx while sending).\n",
                      tr->wall_s / xr->wall_s, tr->send_mpps > 0 ? xr->send_mpps / tr->send_mpps : 0);
        }
        md << "\nPacing (`xcap replay --pps 100000`, xcap's own summary): " << _pacing << ".";
        if (!_pauses.empty()) {
            md << " The machine itself: " << _pauses << ".";
            if (_longest_pause_ms > 1) {
                md << " Those are the VM's vCPUs descheduled by the host: no sender keeps a schedule through them, and "
                      "at 100 kpps each makes hundreds of packets late.";
            }
        }
        md << "\n";

        md << "\n## Micro-benchmarks (Google Benchmark, run by scripts/bench.sh just before)\n\n" << micro_table();
        md << "\n## xdpdump\n\n" << (_xdpdump.empty() ? std::string("Not probed.") : _xdpdump) << "\n";
        md << "\n## Plots\n\n![loss against offered rate](loss.png)\n\n![CPU per packet](cpu.png)\n";
    }

    // The micro-benchmarks' JSON that scripts/bench.sh wrote into the results
    // folder just before this run (older files are another run's: left out).
    std::string micro_table() const {
        std::string rows;
        for (const char* name : {"xcap_writer_bench", "xcap_ring_bench"}) {
            const std::string path = _out + "/" + name + ".json";
            struct stat st{};
            if (stat(path.c_str(), &st) != 0 || st.st_mtime < _wall_start - 15 * 60) {
                continue;
            }
            const std::string text = read_text(path);
            static const std::regex entry("\"name\": \"([^\"]+)\"[^}]*?\"items_per_second\": ([0-9.eE+-]+)");
            for (auto it = std::sregex_iterator(text.begin(), text.end(), entry); it != std::sregex_iterator(); ++it) {
                rows += fmt("| %s | `%s` | %.1f M/s |\n", name, (*it)[1].str().c_str(), std::stod((*it)[2]) / 1e6);
            }
        }
        if (rows.empty()) {
            return "Not run with this run (scripts/bench.sh runs them first).\n";
        }
        return "Items per second: packets (writer: records into memory, `file:0`, or into a file in the page cache, "
               "`file:1`, beside a plain memcpy of the same bytes; ring: the AF_XDP source's per-batch work on rings "
               "in plain memory, beside a memcpy of the descriptors).\n\n| binary | benchmark | items/s |\n|---|---|---|\n" +
               rows;
    }

    void write_json(std::ostream& js, double minutes) {
        js << "{\n  \"machine\": " << json_str(_machine) << ",\n  \"started\": " << json_str(_started_at)
           << ",\n  \"minutes\": " << fmt("%.1f", minutes) << ",\n  \"quick\": " << (_quick ? "true" : "false")
           << ",\n  \"load_start\": " << json_str(_load_start) << ",\n  \"load_end\": " << json_str(_load_end)
           << ",\n  \"background_busy_pct\": " << fmt("%.1f", _background_pct) << ",\n  \"budget\": "
           << json_str(_budget_how) << ",\n  \"runs\": [\n";
        for (size_t i = 0; i < _all.size(); ++i) {
            js << "    " << json_run(_all[i]) << (i + 1 < _all.size() ? ",\n" : "\n");
        }
        js << "  ],\n  \"lossless\": [\n";
        std::vector<const ladder*> all_ladders;
        for (const auto& l : _ladders) {
            all_ladders.push_back(&l);
        }
        for (const auto& l : _budget) {
            all_ladders.push_back(&l);
        }
        for (size_t i = 0; i < all_ladders.size(); ++i) {
            const auto& l = *all_ladders[i];
            js << fmt("    {\"tool\": %s, \"frame\": %u, \"budget\": %s, \"best_mpps\": %s, \"generator_limited\": %s, \"bounded\": %s, "
                      "\"own_ns_per_pkt_there\": %.1f, \"core_pct_there\": %.1f, \"throttled_there\": %" PRIu64 "}%s\n",
                      json_str(l.tool).c_str(), l.size, l.budget ? "true" : "false",
                      l.best ? fmt("%.4f", *l.best).c_str() : "null", l.generator_limited ? "true" : "false",
                      l.bounded ? "true" : "false", l.best_own_ns, l.best_core_pct, l.best_throttled, i + 1 < all_ladders.size() ? "," : "");
        }
        js << "  ],\n  \"replay\": [\n";
        for (size_t i = 0; i < _replays.size(); ++i) {
            const auto& r = _replays[i];
            js << fmt("    {\"tool\": %s, \"frame\": 64, \"packets\": %" PRIu64 ", \"delivered\": %" PRIu64
                      ", \"wall_s\": %.4f, \"first_s\": %.4f, \"send_mpps\": %.4f, \"reported\": %s, \"error\": %s}%s\n",
                      json_str(r.tool).c_str(), r.packets, r.delivered, r.wall_s, r.first_s, r.send_mpps,
                      json_str(r.reported).c_str(), json_str(r.error).c_str(), i + 1 < _replays.size() ? "," : "");
        }
        js << "  ],\n  \"pacing\": {\"text\": " << json_str(_pacing) << ", \"p50\": " << json_str(_pacing_p50)
           << ", \"p99\": " << json_str(_pacing_p99) << ", \"max\": " << json_str(_pacing_max)
           << fmt(", \"machine_pauses_over_1ms_per_s\": %.1f, \"machine_longest_pause_ms\": %.2f},\n", _pauses_per_s,
                  _longest_pause_ms);
        js << "  \"profile\": {\"samples\": " << json_str(_profile_samples) << ", \"kernel_pct\": "
           << fmt("%.1f", _profile_kernel_pct) << ", \"user_pct\": " << fmt("%.1f", _profile_user_pct) << ", \"top\": [";
        for (size_t i = 0; i < _profile_top.size(); ++i) {
            js << (i ? ", " : "") << "{\"symbol\": " << json_str(_profile_top[i].first)
               << fmt(", \"pct\": %.2f}", _profile_top[i].second);
        }
        js << "]},\n  \"xdpdump\": " << json_str(_xdpdump) << "\n}\n";
    }

    // Loss (log scale; a lossless run sits on the "0" line at the bottom)
    // against the offered rate, a panel per frame size and one for the CPU
    // budget; and CPU per packet at the equal-rate points as bars.
    void plot() {
        const double floor_pct = 1e-4;  // 1 packet in 10^6
        std::vector<std::pair<std::string, const std::vector<ladder>*>> panels;
        std::ofstream dat(_tmp + "/loss.dat");
        int blocks = 0;
        auto emit = [&](const ladder& l) {
            std::vector<std::pair<double, double>> pts;
            for (const auto& r : l.runs) {
                if (r.error.empty() && r.offered) {
                    pts.push_back({r.offered_mpps, std::max(floor_pct, r.loss_pct())});
                }
            }
            std::sort(pts.begin(), pts.end());
            dat << "# " << l.tool << " " << l.size << (l.budget ? " budget" : "") << "\n";
            for (const auto& [x, y] : pts) {
                dat << x << " " << y << "\n";
            }
            if (pts.empty()) {
                dat << "-1 1\n";  // keeps the block (and the index numbering) without a visible point
            }
            dat << "\n\n";
            return blocks++;
        };
        // index per (panel, tool)
        std::map<std::pair<std::string, std::string>, int> index;
        for (const auto& l : _ladders) {
            index[{std::to_string(l.size), l.tool}] = emit(l);
        }
        for (const auto& l : _budget) {
            index[{"budget", l.tool}] = emit(l);
        }
        // A ring around a line's last point where the generator could go no
        // faster: the tool's limit lies beyond it.
        std::map<std::string, int> limits;
        auto emit_limits = [&](const std::string& key, const std::vector<ladder>& v) {
            dat << "# generator limits " << key << "\n";
            bool any = false;
            for (const auto& l : v) {
                if (l.generator_limited && l.best && (key == "budget" || std::to_string(l.size) == key)) {
                    dat << *l.best << " " << floor_pct << "\n";
                    any = true;
                }
            }
            if (!any) {
                dat << "-1 1\n";
            }
            dat << "\n\n";
            limits[key] = blocks++;
        };
        for (const char* key : {"64", "512", "1500"}) {
            emit_limits(key, _ladders);
        }
        emit_limits("budget", _budget);
        dat.close();
        const char* colours[] = {"#1b9e77", "#d95f02", "#7570b3"};
        const int points[] = {7, 5, 9};
        std::ofstream gp(_tmp + "/plot.gp");
        gp << "set terminal pngcairo size 1200,900 font ',10'\nset output '" << _out << "/loss.png'\n"
           << "set multiplot layout 2,2 title 'Packets lost against offered rate (" << _machine << ", "
           << _started_at << ")' font ',11'\n"
           << "set logscale y\nset yrange [" << floor_pct * 0.5 << ":200]\n"
           << "set ytics ('0' " << floor_pct << ", '0.001%%' 0.001, '0.01%%' 0.01, '0.1%%' 0.1, '1%%' 1, '10%%' 10, '100%%' 100)\n"
           << "set grid\nset key top left\nset xlabel 'offered (Mpps, as the generator achieved it)'\n"
           << "set ylabel 'lost (% of offered)'\nset xrange [0:*]\n";
        auto panel = [&](const std::string& key, const std::string& title) {
            gp << "set title '" << title << "'\nplot ";
            bool first = true;
            for (int t = 0; t < 3; ++t) {
                auto it = index.find({key, k_tools[t]});
                if (it == index.end()) {
                    continue;
                }
                gp << (first ? "" : ", ") << "'" << _tmp << "/loss.dat' index " << it->second
                   << " using 1:2 with linespoints lw 2 pt " << points[t] << " ps 1.3 lc rgb '" << colours[t]
                   << "' title '" << k_tools[t] << "'";
                first = false;
            }
            if (first) {
                gp << "NaN notitle";
            } else {
                gp << ", '" << _tmp << "/loss.dat' index " << limits[key]
                   << " using 1:2 with points pt 6 ps 3.2 lw 1.5 lc rgb 'black' title 'the generator could go no faster'";
            }
            gp << "\n";
        };
        panel("64", "64-byte frames");
        panel("512", "512-byte frames");
        panel("1500", "1500-byte frames");
        panel("budget", "64-byte frames, each tool held to 30% of one core");
        gp << "unset multiplot\n";

        // CPU bars: per tool four columns, own and machine ns/pkt and their
        // labels ("*" where the tool lost packets in that run).
        std::ofstream bars(_tmp + "/cpu.dat");
        const auto pts = equal_points();
        double top[2] = {0, 0};
        bool any_lossy = false;
        for (const auto& [size, mpps] : pts) {
            bars << "\"" << size << " B\\n" << fmt("%g", mpps) << " Mpps\"";
            for (const char* t : k_tools) {
                auto r = equal_point(t, size, mpps);
                if (!r) {
                    bars << " NaN NaN \"\" \"\"";
                    continue;
                }
                const char* mark = r->lossless() ? "" : "*";
                any_lossy = any_lossy || !r->lossless();
                top[0] = std::max(top[0], r->own);
                top[1] = std::max(top[1], r->machine);
                bars << fmt(" %.0f %.0f \"%.0f%s\" \"%.0f%s\"", r->own, r->machine, r->own, mark, r->machine, mark);
            }
            bars << "\n";
        }
        bars.close();
        gp << "set terminal pngcairo size 1200,520 font ',10'\nset output '" << _out << "/cpu.png'\n"
           << "unset logscale\nset ytics auto\nunset xlabel\n"
           << "set style data histogram\nset style histogram cluster gap 1\nset style fill solid 0.85 border -1\n"
           << "set boxwidth 0.9\nset grid ytics\nset key top left\nset termoption noenhanced\nset bmargin 5\n"
           << "set xrange [-0.6:" << fmt("%.1f", double(pts.size()) - 0.4) << "]\n"
           << "set multiplot layout 1,2 title \"CPU per packet at the same offered rate, lower is better (" << _machine
           << ")" << (any_lossy ? "\\n* the tool lost packets in a run there" : "") << "\" font ',11'\n";
        // Only the tools with a figure: a column of nothing but NaN stops gnuplot.
        std::vector<int> shown;
        for (int t = 0; t < 3; ++t) {
            for (const auto& p : _equal) {
                if (p.spec.tool == k_tools[t] && p.error.empty() && p.written) {
                    shown.push_back(t);
                    break;
                }
            }
        }
        for (int kind = 0; kind < 2 && !shown.empty(); ++kind) {
            gp << "set title '" << (kind == 0 ? "own CPU of the tool (user + sys)" : "machine CPU (own + kernel receive path)")
               << "'\nset ylabel 'ns per packet'\nset yrange [0:" << fmt("%.0f", top[kind] * 1.15 + 1) << "]\nplot ";
            const double n = double(shown.size());
            for (size_t j = 0; j < shown.size(); ++j) {
                int t = shown[j];
                gp << (j ? ", " : "") << "'" << _tmp << "/cpu.dat' using " << 2 + t * 4 + kind << ":xtic(1) title '"
                   << k_tools[t] << "' lc rgb '" << colours[t] << "'";
            }
            // A cluster of n bars is centred on the row number, each bar 1/(n+1) wide.
            for (size_t j = 0; j < shown.size(); ++j) {
                int t = shown[j];
                gp << ", '' using ($0 + " << fmt("%.3f", (double(j) - (n - 1) / 2) / (n + 1)) << "):" << 2 + t * 4 + kind
                   << ":" << 4 + t * 4 + kind << " with labels offset 0,0.7 font ',8' notitle";
            }
            gp << "\n";
        }
        gp << "unset multiplot\n";
        gp.close();
        auto r = sh("gnuplot " + quote(_tmp + "/plot.gp"));
        if (r.status != 0) {
            std::fprintf(stderr, "xcap-bench: gnuplot failed; no plots: %s\n", r.output.c_str());
        }
    }

    int finish() {
        _load_end = one_line(sh("uptime").output);
        const double minutes = double(mono_ns() - _t_start) / 60e9;
        mkdir(_out.c_str(), 0755);
        std::ostringstream md, js;
        write_markdown(md, minutes);
        write_json(js, minutes);
        write_file(_out + "/latest.md", md.str());
        write_file(_out + "/latest.json", js.str());
        plot();
        std::printf("\n%s\nwritten to %s: latest.md, latest.json, loss.png, cpu.png%s (%.1f min)\n", md.str().c_str(),
                    _out.c_str(), _profile_top.empty() ? "" : ", profile-xcap-64B.txt", minutes);
        return g_interrupted ? 130 : 0;
    }

    std::string _out;
    bool _quick;
    std::set<std::string> _phases;
    std::vector<std::string> _tools;
    veth_pair _net;
    net_rx_timer _rx_timer;
    std::string _tmp;
    std::string _shm;  // capture files (tmpfs)
    std::string _machine, _started_at, _load_start, _load_end;
    double _background_pct = 0;
    int64_t _t_start = 0;
    time_t _wall_start = 0;
    double _max_minutes = 20;
    bool _out_of_time = false;
    std::vector<run_result> _all, _equal;
    std::vector<ladder> _ladders, _budget;
    std::vector<run_result> _zero;
    std::vector<replay_result> _replays;
    std::string _pacing = "not measured", _pacing_p50, _pacing_p99, _pacing_max, _pauses;
    double _pauses_per_s = 0, _longest_pause_ms = 0;
    std::string _budget_how, _xdpdump;
    std::string _profile_note, _profile_samples;
    std::vector<std::pair<std::string, double>> _profile_top;
    double _profile_kernel_pct = 0, _profile_user_pct = 0;
};

std::vector<std::string> split(const std::string& s) {
    std::vector<std::string> v;
    std::istringstream in(s);
    for (std::string w; std::getline(in, w, ',');) {
        if (!w.empty()) {
            v.push_back(w);
        }
    }
    return v;
}

}  // namespace

int main(int argc, char** argv) {
    std::string out = "bench/results";
    bool quick = false;
    std::set<std::string> phases;
    std::vector<std::string> tools;
    double max_minutes = 20;
    const std::set<std::string> known = {"equal", "profile", "ladder", "budget", "zero", "replay", "pacing", "xdpdump"};
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--out" && i + 1 < argc) {
            out = argv[++i];
        } else if (a == "--quick") {
            quick = true;
        } else if (a == "--phases" && i + 1 < argc) {
            for (const auto& p : split(argv[++i])) {
                if (!known.count(p)) {
                    std::fprintf(stderr, "xcap-bench: no phase %s\n", p.c_str());
                    return 2;
                }
                phases.insert(p);
            }
        } else if (a == "--max-minutes" && i + 1 < argc) {
            max_minutes = std::atof(argv[++i]);
        } else if (a == "--tools" && i + 1 < argc) {
            tools = split(argv[++i]);
        } else {
            std::fprintf(stderr,
                         "usage: xcap-bench [--out DIR] [--quick] [--phases equal,profile,ladder,budget,zero,replay,"
                         "pacing,xdpdump] [--tools xcap,tcpdump,netsniff-ng] [--max-minutes M (default 20)]\n");
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
    bench b(out, quick, std::move(phases), std::move(tools), max_minutes);
    return b.run();
}
