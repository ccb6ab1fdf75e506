#pragma once
// The harness: the namespaces and scratch directories every scenario shares,
// the one way a capture tool is run and measured (capture()), and the list
// of scenarios, run in order and then written up (latest.md, latest.json,
// plots). A scenario is a file of its own (equal.cc, lossless.cc, ...): it
// runs its phases through the harness and writes its own section of the
// results, so adding one touches no other scenario. Single-threaded.
#include <time.h>

#include <cstdint>
#include <memory>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "accounting.h"
#include "util.h"

namespace xcap::e2e {

// The capture tools compared, in the order they take turns.
inline const char* const k_tools[] = {"xcap", "tcpdump", "netsniff-ng"};
// xcap itself, in any of its modes (xcap, xcap-tap).
inline bool is_xcap(const std::string& tool) { return tool.rfind("xcap", 0) == 0; }

struct run_spec {
    std::string phase;       // equal, ladder, budget, zero, profile
    std::string tool;
    uint32_t size = 64;
    double asked_mpps = 0;   // 0 = unpaced (the generator's top rate)
    uint64_t count = 0;
    bool budget = false;
    bool profile = false;
    bool cpu_clock = false;  // the profile samples cpu-clock (every thread's time on a CPU), not cycles
    // perf record -e cpu-clock -g of CPU 0 (the generator and the veth's
    // receive work, each tool's kernel side) over the flood only, into
    // perf_data().
    bool profile_cpu0 = false;
    std::string filter;                 // a tcpdump expression given to the tool ("" = none)
    std::vector<std::string> gen_args;  // more xcap-flood arguments (e.g. --ports)
    uint64_t expected = 0;              // packets that belong in the file (0: count)
    // The generator: xcap-flood, or `xcap replay --pps` of this file sent
    // replay_loops times (frames larger than a page, which the flood cannot
    // make). With a replay, no XDP program is put on the receiver for the
    // peers: the frames come through the veth's normal path.
    std::string replay_file;
    uint32_t replay_loops = 1;
    // Where the tool writes its file: "" = tmpfs (harness::shm()); a disk
    // folder has the page cache dropped before the run.
    std::string dir;
    std::vector<std::string> xcap_args;  // more options for xcap (e.g. --buffer-len 0)
    uint32_t rotate_mb = 0;              // -C for xcap and tcpdump: files FILE, FILE1, ... (0 = one file)
    std::string label;                   // the tool's name in the results ("" = tool)
};

struct run_result {
    run_spec spec;
    uint64_t offered = 0;       // the generator's count
    double offered_mpps = 0;    // as the generator achieved it
    uint64_t delivered = 0;     // the receiving interface's rx_packets
    uint64_t written = 0;       // packets in the tool's file (files, with -C)
    uint32_t files = 0;         // files the tool wrote
    double own_user_s = 0, own_sys_s = 0;
    double own_exact_s = -1;    // the same from schedstat, to the ns (-1: not available)
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
    std::string tool_output;    // the tool's stdout and stderr (its summary)
    std::string load;           // /proc/loadavg's first three figures as the run started
    std::string error;

    // What the file should hold: every packet offered, or a filter's matches.
    uint64_t expected() const { return spec.expected ? spec.expected : offered; }
    bool lossless() const { return error.empty() && offered > 0 && written >= expected(); }
    double loss_pct() const {
        return expected() ? 100.0 * double(expected() - std::min(expected(), written)) / double(expected()) : 0;
    }
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

class harness;

// One part of the run: its phases (the names --phases takes), what it runs,
// and its section of the results. Every scenario is asked to write its
// section and JSON even when its phases did not run (it says so).
class scenario {
public:
    virtual ~scenario() = default;
    // The --phases names it answers to, in the order it runs them.
    virtual std::vector<std::string> phases() const = 0;
    // Runs whichever of its phases are wanted (h.want()); checks
    // g_interrupted and h.over_time() itself.
    virtual void run(harness& h) = 0;
    // Where its section goes in latest.md and its keys in latest.json:
    // lower first (equal 10, profile 20, lossless 30, replay 40,
    // micro-benchmarks 50, xdpdump 60).
    virtual int section() const = 0;
    // Its section of latest.md, starting with "\n## ...".
    virtual void markdown(std::ostream& md, const harness& h) const = 0;
    // Its top-level keys of latest.json, each as ",\n  \"key\": value".
    virtual void json(std::ostream&, const harness&) const {}
    // Files it wrote into the results folder besides the common ones, each
    // as ", name" (for the closing line).
    virtual std::string files() const { return ""; }
};

class harness {
public:
    struct options {
        std::string out = "bench/results";
        bool quick = false;
        std::set<std::string> phases;    // empty: all
        std::vector<std::string> tools;  // empty: all
        double max_minutes = 20;
    };

    // `scenarios` in the order they run.
    harness(options opt, std::vector<std::unique_ptr<scenario>> scenarios);
    ~harness();
    harness(const harness&) = delete;
    harness& operator=(const harness&) = delete;

    // Runs every scenario, writes the results; the process's exit code.
    int run();

    // ---- for scenarios ----
    bool quick() const { return _opt.quick; }
    const std::string& out() const { return _opt.out; }
    double max_minutes() const { return _opt.max_minutes; }
    bool want(const std::string& phase) const { return _opt.phases.empty() || _opt.phases.count(phase); }
    bool want_tool(const std::string& tool) const;
    // A full run must end in about 20 minutes on this machine; past the
    // limit the remaining steps are skipped (and the results say so).
    bool over_time();
    bool out_of_time() const { return _out_of_time; }

    const veth_pair& net() const { return _net; }
    const std::string& tmp() const { return _tmp; }
    const std::string& shm() const { return _shm; }  // capture files (tmpfs)
    // Attaches an XDP program object to the receiving interface, or takes it off.
    void attach(const std::string& obj);
    void detach();

    // Runs one capture (capture()), prints it and keeps it in all_runs().
    run_result measure(const run_spec& s);
    const std::vector<run_result>& all_runs() const { return _all; }
    // Where a profile run (run_spec::profile) left perf's data.
    std::string perf_data() const { return _tmp + "/perf.data"; }
    // How the CPU budget is applied, or why it is not ("" until tried).
    std::string budget_how;

    const net_rx_timer& rx_timer() const { return _rx_timer; }
    const std::string& machine() const { return _machine; }
    const std::string& started_at() const { return _started_at; }
    time_t wall_start() const { return _wall_start; }

    template <class T>
    const T* find() const {
        for (const auto& s : _scenarios) {
            if (auto* t = dynamic_cast<const T*>(s.get())) {
                return t;
            }
        }
        return nullptr;
    }

private:
    // tools.cc: one tool, one flood
    run_result capture(const run_spec& spec);
    bool wait_ready(child& c, const std::string& tool, const std::string& file, const std::string& err,
                    double timeout_s, std::string* why);
    void finish_capture(child& c, const std::string& tool);
    void print(const run_result& p);

    // report.cc and plots.cc
    int finish();
    void write_markdown(std::ostream& md, double minutes) const;
    void write_json(std::ostream& js, double minutes) const;
    void plot() const;
    // Whether a plotted scenario (equal, lossless) has anything to plot; a
    // run of other phases alone makes no plots.
    bool plots_have_data() const;
    std::vector<const scenario*> report_order() const;

    options _opt;
    std::vector<std::unique_ptr<scenario>> _scenarios;
    veth_pair _net;
    net_rx_timer _rx_timer;
    std::string _tmp;
    std::string _shm;
    std::string _machine, _started_at, _load_start, _load_end;
    double _background_pct = 0;
    int64_t _t_start = 0;
    time_t _wall_start = 0;
    bool _out_of_time = false;
    bool _generator_on_sockets = false;  // xcap-flood said the kernel refuses live frames
    std::vector<run_result> _all;
};

// Waits until the process's CPU time has not risen for `quiet_ms`; returns
// its CPU time then. False when it exits or `timeout_s` passes first.
bool wait_cpu_quiet(child& c, int quiet_ms, double timeout_s, proc_cpu* at);

}  // namespace xcap::e2e
