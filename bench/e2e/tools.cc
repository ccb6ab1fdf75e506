// How a capture tool is run and measured: started in the receiving
// namespace on CPU 1, the flood sent only once it is ready, its own CPU and
// the kernel's receive path counted over the flood and its drain, then
// stopped with SIGINT and its file counted.
#include <sys/stat.h>
#include <unistd.h>

#include <cinttypes>
#include <optional>
#include <regex>

#include "cpu_budget.h"
#include "harness.h"
#include "pcap/reader.h"

namespace xcap::e2e {

namespace {

void parse_tool_drops(run_result& p, const std::string& text) {
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

}  // namespace

// Ready to capture: the tool's own sign that it is (xcap: its XDP program
// is attached; tcpdump: "listening on"; netsniff-ng: its output file has
// a header, which it writes after setting up its ring), and then its CPU
// has stopped rising. netsniff-ng spends seconds of CPU faulting in a ring
// of several GiB: a flood started before that is over is not captured.
bool harness::wait_ready(child& c, const std::string& tool, const std::string& file, const std::string& err,
                double timeout_s, std::string* why) {
    const int64_t deadline = mono_ns() + int64_t(timeout_s * 1e9);
    bool sign = false;
    while (!sign && mono_ns() < deadline && !g_interrupted) {
        if (!c.running()) {
            *why = "exited at start: " + one_line(read_text(err));
            return false;
        }
        if (is_xcap(tool)) {
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

run_result harness::capture(const run_spec& spec) {
    run_result p;
    p.spec = spec;
    p.offered = spec.count;
    // On tmpfs: at 1500 bytes the file grows by gigabytes a second, and on
    // disk the page cache's dirty throttling, not the tool, would decide.
    const std::string file = (spec.dir.empty() ? _shm : spec.dir) + "/" + spec.tool + ".pcap";
    const std::string out = _tmp + "/tool.out", err = _tmp + "/tool.err";
    sh("rm -f " + quote(file));
    if (!spec.dir.empty()) {
        // Every tool starts from the same page cache: none of the last
        // run's dirty pages are left to write back.
        sh("sync; echo 3 > /proc/sys/vm/drop_caches");
    }
    p.load = one_line(read_text("/proc/loadavg"));
    p.load = p.load.substr(0, p.load.find(' ', p.load.find(' ', p.load.find(' ') + 1) + 1));
    std::vector<std::string> argv = {"taskset", "-c", "1"};
    if (spec.tool == "xcap") {
        argv.insert(argv.end(), {XCAP_BIN, "-q", "-i", _net.receiver_if(), "-w", file});
        argv.insert(argv.end(), spec.xcap_args.begin(), spec.xcap_args.end());
        if (spec.rotate_mb) {
            argv.insert(argv.end(), {"-C", std::to_string(spec.rotate_mb)});
        }
    } else if (spec.tool == "xcap-tap") {
        // Tap mode attaches its own program, which passes every packet on.
        argv.insert(argv.end(), {XCAP_BIN, "-q", "--tap", "-i", _net.receiver_if(), "-w", file});
    } else {
        // The flood's frames only reach an interface with an XDP program.
        if (spec.replay_file.empty()) {
            attach(XDP_PASS_OBJ);
        }
        if (spec.tool == "tcpdump") {
            argv.insert(argv.end(), {"tcpdump", "-i", _net.receiver_if(), "-B", "65536", "-w", file});
            if (spec.rotate_mb) {
                // tcpdump opens each later file after it has become the
                // user "tcpdump", who cannot write in root's folder: stay root.
                argv.insert(argv.end(), {"-C", std::to_string(spec.rotate_mb), "-Z", "root"});
            }
        } else {
            // The same 64 MiB of packet buffer as tcpdump -B 65536 and
            // xcap's default -B: left to itself netsniff-ng sizes its ring
            // from the machine's memory (2.4 GiB here, 4.5 s of CPU to set
            // up), and its lossless rate then measured that memory.
            argv.insert(argv.end(),
                        {"netsniff-ng", "--in", _net.receiver_if(), "--out", file, "--silent", "--ring-size", "64MiB"});
        }
    }
    if (!spec.filter.empty()) {
        // The expression as one trailing argument: each tool joins its
        // trailing words with spaces, as tcpdump does.
        argv.push_back(spec.filter);
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
        budget_how = budget->how();
    }
    std::optional<child> perf;
    const std::string perf_file = perf_data();
    if (spec.profile) {
        std::vector<std::string> pa = {"perf", "record", "-g", "-F", "10000", "-o", perf_file, "-p", std::to_string(c.pid())};
        if (spec.cpu_clock) {
            pa.insert(pa.begin() + 2, {"-e", "cpu-clock"});
        }
        perf.emplace(pa, _tmp + "/perf.out", _tmp + "/perf.err");
        nap_ms(1000);  // perf needs a moment to open its events on every thread
    }
    const uint64_t rx0 = _net.receiver_rx_packets();
    const uint64_t throttled0 = budget ? budget->throttled_periods() : 0;
    const proc_cpu cpu0 = proc_cpu::read(c.pid());
    const double sched0 = sched_s(c.pid());
    const auto m0 = machine_ticks::read();
    const double g0 = children_cpu_s();
    const bool timed = _rx_timer.start();
    const int64_t w0 = mono_ns();
    std::vector<std::string> gen;
    if (spec.replay_file.empty()) {
        gen = {FLOOD_BIN, "-i", _net.sender_if(), "-n", std::to_string(spec.count), "--size", std::to_string(spec.size),
               "--cpus", "1"};
        if (spec.asked_mpps > 0) {
            gen.insert(gen.end(), {"--pps", fmt("%.0f", spec.asked_mpps * 1e6)});
        }
    } else {
        gen = {"taskset", "-c", "0", XCAP_BIN, "replay", "-q", "-i", _net.sender_if(), "-r", spec.replay_file,
               "--loop", std::to_string(spec.replay_loops)};
        if (spec.asked_mpps > 0) {
            gen.insert(gen.end(), {"--pps", fmt("%.0f", spec.asked_mpps * 1e6)});
        } else {
            gen.push_back("--topspeed");
        }
    }
    gen.insert(gen.end(), spec.gen_args.begin(), spec.gen_args.end());
    const double expect_s = double(spec.count) / ((spec.asked_mpps > 0 ? spec.asked_mpps : 1.0) * 1e6);
    std::optional<child> perf_cpu0;
    if (spec.profile_cpu0) {
        perf_cpu0.emplace(std::vector<std::string>{"perf", "record", "-C", "0", "-e", "cpu-clock", "-g", "-o",
                                                   perf_file},
                          _tmp + "/perf.out", _tmp + "/perf.err");
        nap_ms(1000);  // perf needs a moment to open its events
    }
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
    if (perf_cpu0) {
        perf_cpu0->signal(SIGINT);  // the flood is over: what CPU 0 did after it is not the flood's
        perf_cpu0->wait(30);
        perf_cpu0.reset();
    }
    p.generator_s = children_cpu_s() - g0;
    std::smatch m;
    std::string gout = read_text(_tmp + "/gen.out") + read_text(_tmp + "/gen.err");  // replay reports on stderr
    _generator_on_sockets |= gout.find("AF_XDP sockets in copy mode instead") != std::string::npos;
    if (std::regex_search(gout, m, std::regex("\\(([0-9.]+) Mpps\\)"))) {
        p.offered_mpps = std::stod(m[1]);
    } else if (std::regex_search(gout, m, std::regex("s: ([0-9.]+) Mpps"))) {  // xcap replay
        p.offered_mpps = std::stod(m[1]);
    }
    // Drain. tcpdump and netsniff-ng read a TPACKET_V3 ring, whose kernel
    // hands a block over only when it is full or its timeout (tcpdump's
    // 1000 ms) passes: stopping them sooner loses the last block, which
    // is the harness's fault, not theirs. Then until the tool's CPU stops
    // rising (a throttled tool drains slowly).
    nap_ms(is_xcap(spec.tool) ? 200 : 1200);
    proc_cpu cpu1;
    wait_cpu_quiet(c, 300, spec.budget ? 30 : 15, &cpu1);
    const double sched1 = sched_s(c.pid());
    if (sched0 >= 0 && sched1 >= sched0) {
        p.own_exact_s = sched1 - sched0;
    }
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
    p.tool_output = read_text(out) + read_text(err);
    parse_tool_drops(p, p.tool_output);
    // With -C the files are FILE, FILE1, FILE2, ... (xcap and tcpdump alike).
    for (uint32_t k = 0;; ++k) {
        const std::string f = k == 0 ? file : file + std::to_string(k);
        if (k > 0 && access(f.c_str(), F_OK) != 0) {
            break;
        }
        if (p.error.empty()) {
            try {
                capture_reader r(f);
                read_packet pk;
                while (r.next(pk)) {
                    ++p.written;
                }
            } catch (const read_error& e) {
                p.error = f + ": " + e.what();
            }
        }
        p.files = k + 1;
        sh("rm -f " + quote(f));
        if (!spec.rotate_mb) {
            break;
        }
    }
    return p;
}

// Stops the tool (SIGINT, as a user would) and takes the pass-through
// program off again for the tools that needed it.
void harness::finish_capture(child& c, const std::string& tool) {
    c.signal(SIGINT);
    if (c.wait(60) < 0) {
        c.signal(SIGKILL);
        c.wait(10);
    }
    if (!is_xcap(tool)) {
        detach();
    }
}

void harness::print(const run_result& p) {
    const char* what = p.spec.budget ? " (30% of a core)" : "";
    if (!p.error.empty()) {
        std::printf("%-7s %-11s %4u B%s: %s\n", p.spec.phase.c_str(), p.spec.tool.c_str(), p.spec.size, what,
                    p.error.c_str());
    } else {
        std::printf("[load %s] ", p.load.c_str());
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

run_result harness::measure(const run_spec& s) {
    auto r = capture(s);
    print(r);
    _all.push_back(r);
    return r;
}

}  // namespace xcap::e2e
