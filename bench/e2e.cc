// xcap-bench: the end-to-end harness. In a throwaway pair of network
// namespaces joined by a 2-queue veth pair, it measures xcap against tcpdump,
// xdpdump and netsniff-ng (capture) and tcpreplay (replay), in the same run,
// with the project's own generator (xcap-flood: BPF_PROG_RUN live frames).
//
//   xcap-bench [--out DIR] [--quick]
//
// Writes DIR/latest.md, DIR/latest.json and DIR/capture.png. Bounded in
// packets and time; Ctrl-C stops it between steps and everything it made is
// removed. Needs root.
#include <signal.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <sstream>

#include "frames.h"
#include "netns.h"
#include "pcap/reader.h"
#include "pcap/savefile.h"

using namespace xcap;
using namespace xcap::test;

namespace {

volatile sig_atomic_t g_interrupted = 0;

void on_signal(int) { g_interrupted = 1; }


std::string fmt(const char* f, auto... args) {
    char b[1024];
    std::snprintf(b, sizeof(b), f, args...);
    return b;
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

// utime + stime of a process, all its threads, in seconds.
double process_cpu_s(pid_t pid) {
    std::string stat = read_text("/proc/" + std::to_string(pid) + "/stat");
    size_t close = stat.rfind(')');
    if (close == std::string::npos) {
        return 0;
    }
    std::istringstream rest(stat.substr(close + 2));
    std::string field;
    uint64_t utime = 0, stime = 0;
    for (int i = 3; i <= 15 && rest >> field; ++i) {
        if (i == 14) {
            utime = std::stoull(field);
        }
        if (i == 15) {
            stime = std::stoull(field);
        }
    }
    return double(utime + stime) / double(sysconf(_SC_CLK_TCK));
}

struct capture_point {
    std::string tool;
    uint32_t size = 64;
    double asked_mpps = 0;     // 0 = unpaced
    uint64_t offered = 0;
    double offered_mpps = 0;   // as the generator achieved it
    uint64_t delivered = 0;    // the receiving interface's rx_packets
    uint64_t written = 0;      // packets in the tool's file
    double written_mpps = 0;   // over the file's own first-to-last span
    double proc_cpu_s = 0;
    double machine_cpu_s = 0;
    std::string error;         // why the tool could not run here

    double loss_pct() const { return offered ? 100.0 * double(offered - std::min(offered, written)) / double(offered) : 0; }
    double proc_s_per_mpkt() const { return written ? proc_cpu_s / (double(written) / 1e6) : 0; }
    double machine_s_per_mpkt() const { return written ? machine_cpu_s / (double(written) / 1e6) : 0; }
};

struct replay_point {
    std::string tool;
    uint32_t size = 64;
    uint64_t sent = 0;
    uint64_t delivered = 0;
    double mpps = 0;
    std::string error;
};

class bench {
public:
    bench(std::string out, bool quick) : _out(std::move(out)), _quick(quick), _net(2) {}

    int run() {
        if (!_net.ok()) {
            std::fprintf(stderr, "xcap-bench: cannot make the namespaces: %s\n", _net.error().c_str());
            return 1;
        }
        char tmpl[] = "/tmp/xcap-bench-XXXXXX";
        _tmp = mkdtemp(tmpl);
        char shm[] = "/dev/shm/xcap-bench-XXXXXX";
        _shm = mkdtemp(shm) ? shm : _tmp;
        _machine = describe_machine();
        std::printf("%s\n", _machine.c_str());

        const uint64_t n = _quick ? 300'000 : 2'000'000;
        for (uint32_t size : {64u, 512u, 1500u}) {
            for (const char* tool : {"xcap", "tcpdump", "xdpdump", "netsniff-ng"}) {
                if (g_interrupted) {
                    return finish();
                }
                _table.push_back(capture(tool, size, 0, n));
                print(_table.back());
            }
        }
        std::vector<double> steps = _quick ? std::vector<double>{0.5, 1.0, 2.0}
                                           : std::vector<double>{0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0};
        for (const char* tool : {"xcap", "tcpdump", "netsniff-ng"}) {
            for (double r : steps) {
                if (g_interrupted) {
                    return finish();
                }
                auto p = capture(tool, 64, r, _quick ? 300'000 : 1'000'000);
                _steps.push_back(p);
                print(p);
                if (!p.error.empty()) {
                    break;
                }
            }
        }
        for (uint32_t size : {64u, 512u, 1500u}) {
            for (const char* tool : {"xcap replay", "tcpreplay"}) {
                if (g_interrupted) {
                    return finish();
                }
                _replays.push_back(replay(tool, size, _quick ? 200'000 : 1'000'000));
                const auto& r = _replays.back();
                std::printf("replay %-12s %4u B: %.3f Mpps, %" PRIu64 " sent, %" PRIu64 " delivered %s\n", r.tool.c_str(),
                            r.size, r.mpps, r.sent, r.delivered, r.error.c_str());
            }
        }
        pacing_precision();
        return finish();
    }

    ~bench() {
        if (!_tmp.empty()) {
            sh("rm -rf " + quote(_tmp));
        }
        if (!_shm.empty() && _shm != _tmp) {
            sh("rm -rf " + quote(_shm));
        }
    }

private:
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
        return fmt("machine: %s, %ld cores, Linux %s", cpu.c_str(), sysconf(_SC_NPROCESSORS_ONLN), u.release);
    }

    void attach(const std::string& obj) {
        sh("ip -n " + _net.receiver_ns() + " link set dev " + _net.receiver_if() + " xdpdrv obj " + obj + " sec xdp");
    }
    void detach() { sh("ip -n " + _net.receiver_ns() + " link set dev " + _net.receiver_if() + " xdpdrv off"); }

    capture_point capture(const std::string& tool, uint32_t size, double mpps, uint64_t n) {
        capture_point p;
        p.tool = tool;
        p.size = size;
        p.asked_mpps = mpps;
        p.offered = n;
        // On tmpfs: at 1500 bytes and 2 Mpps the file grows by 3 GB/s, and on
        // disk the page cache's dirty throttling, not the tool, decided.
        const std::string file = _shm + "/" + tool + ".pcap";
        const std::string err = _tmp + "/" + tool + ".err";
        std::vector<std::string> argv = {"taskset", "-c", "1"};
        if (tool == "xcap") {
            argv.insert(argv.end(), {XCAP_BIN, "-q", "-i", _net.receiver_if(), "-w", file});
        } else {
            // The generator's frames only reach an interface with an XDP program.
            attach(XDP_PASS_OBJ);
            if (tool == "tcpdump") {
                argv.insert(argv.end(), {"tcpdump", "-i", _net.receiver_if(), "-B", "65536", "-w", file});
            } else if (tool == "netsniff-ng") {
                argv.insert(argv.end(), {"netsniff-ng", "--in", _net.receiver_if(), "--out", file, "--silent"});
            } else if (tool == "xdpdump") {
                argv.insert(argv.end(), {"xdpdump", "-i", _net.receiver_if(), "-w", file});
            }
        }
        child c(_net.in_receiver(argv), _tmp + "/tool.out", err);
        // Ready: xcap when its program is attached; the others after a second.
        if (tool == "xcap") {
            _net.wait_receiver_xdp(true, 10);
        } else {
            usleep(1'000'000);
        }
        if (!c.running()) {
            std::string e = read_text(err);
            std::replace(e.begin(), e.end(), '\n', ' ');
            p.error = "exited at start: " + e;
            if (tool == "xdpdump") {
                p.error = "cannot run here: its fentry program is refused (" + e +
                          "); its legacy mode needs an interface without XDP, which the generator needs";
            }
            detach();
            return p;
        }
        const uint64_t rx0 = _net.receiver_rx_packets();
        const double cpu0 = process_cpu_s(c.pid());
        const auto m0 = machine_ticks::read();
        std::vector<std::string> gen = {FLOOD_BIN, "-i", _net.sender_if(), "-n", std::to_string(n), "--size",
                                        std::to_string(size), "--cpus", "1"};
        if (mpps > 0) {
            gen.insert(gen.end(), {"--pps", fmt("%.0f", mpps * 1e6)});
        }
        child g(_net.in_sender(gen), _tmp + "/gen.out", _tmp + "/gen.err");
        g.wait(120);
        std::smatch m;
        std::string gout = read_text(_tmp + "/gen.out");
        if (std::regex_search(gout, m, std::regex("\\(([0-9.]+) Mpps\\)"))) {
            p.offered_mpps = std::stod(m[1]);
        }
        usleep(500'000);  // let the tool drain
        const uint64_t rx1 = _net.receiver_rx_packets();
        const double cpu1 = process_cpu_s(c.pid());
        const auto m1 = machine_ticks::read();
        c.signal(SIGINT);
        c.wait(30);
        p.delivered = rx1 - rx0;
        p.proc_cpu_s = cpu1 - cpu0;
        p.machine_cpu_s = double(m1.busy - m0.busy) / double(sysconf(_SC_CLK_TCK));
        try {
            capture_reader r(file);
            read_packet pk;
            uint64_t first = 0, last = 0;
            while (r.next(pk)) {
                if (p.written++ == 0) {
                    first = pk.ts_ns;
                }
                last = pk.ts_ns;
            }
            p.written_mpps = last > first ? double(p.written - 1) / (double(last - first) / 1e3) : 0;
        } catch (const read_error& e) {
            p.error = e.what();
        }
        sh("rm -f " + quote(file));
        if (tool != "xcap") {
            detach();
        }
        return p;
    }

    void print(const capture_point& p) {
        if (!p.error.empty()) {
            std::printf("capture %-11s %4u B: %s\n", p.tool.c_str(), p.size, p.error.c_str());
            return;
        }
        std::printf("capture %-11s %4u B at %.2f Mpps offered: %" PRIu64 "/%" PRIu64 " written (%.3f%% lost), "
                    "%.1f ns/pkt own CPU, %.1f ns/pkt machine\n",
                    p.tool.c_str(), p.size, p.offered_mpps, p.written, p.offered, p.loss_pct(),
                    p.proc_s_per_mpkt() * 1e3, p.machine_s_per_mpkt() * 1e3);
        std::fflush(stdout);
    }

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

    replay_point replay(const std::string& tool, uint32_t size, uint64_t n) {
        replay_point p;
        p.tool = tool;
        p.size = size;
        std::string file = make_file(size, n);
        attach(XDP_DROP_OBJ);
        const uint64_t rx0 = _net.receiver_rx_packets();
        std::vector<std::string> argv = {"taskset", "-c", "1"};
        if (tool == "tcpreplay") {
            argv.insert(argv.end(), {"tcpreplay", "--topspeed", "-K", "-i", _net.sender_if(), file});
        } else {
            // Preloaded like tcpreplay -K, whatever the file's size.
            argv.insert(argv.end(), {XCAP_BIN, "replay", "-q", "-i", _net.sender_if(), "-r", file, "--topspeed",
                                     "--preload", "4096"});
        }
        child c(_net.in_sender(argv), _tmp + "/r.out", _tmp + "/r.err");
        int rc = c.wait(300);
        std::string out = read_text(_tmp + "/r.out") + read_text(_tmp + "/r.err");
        p.delivered = _net.receiver_rx_packets() - rx0;
        std::smatch m;
        if (tool == "tcpreplay") {
            if (std::regex_search(out, m, std::regex("Actual: ([0-9]+) packets"))) {
                p.sent = std::stoull(m[1]);
            }
            if (std::regex_search(out, m, std::regex("Rated: [0-9.]+ Bps, [0-9.]+ Mbps, ([0-9.]+) pps"))) {
                p.mpps = std::stod(m[1]) / 1e6;
            }
        } else {
            if (std::regex_search(out, m, std::regex("sent ([0-9]+) packets .* in [0-9.]+ s: ([0-9.]+) Mpps"))) {
                p.sent = std::stoull(m[1]);
                p.mpps = std::stod(m[2]);
            }
        }
        if (rc != 0 || p.sent == 0) {
            std::replace(out.begin(), out.end(), '\n', ' ');
            p.error = "failed: " + out.substr(0, 300);
        }
        detach();
        sh("rm -f " + quote(file));
        return p;
    }

    void pacing_precision() {
        const uint64_t n = _quick ? 50'000 : 200'000;
        std::string file = make_file(64, n);
        attach(XDP_DROP_OBJ);
        child c(_net.in_sender({XCAP_BIN, "replay", "-q", "-i", _net.sender_if(), "-r", file, "--pps", "100000"}),
                _tmp + "/p.out", _tmp + "/p.err");
        c.wait(120);
        detach();
        std::string out = read_text(_tmp + "/p.err");
        std::smatch m;
        if (std::regex_search(out, m, std::regex("p50 ([0-9.]+ (?:µs|ms)), p99 ([0-9.]+ (?:µs|ms)), max ([0-9.]+ (?:µs|ms))"))) {
            _pacing = fmt("%" PRIu64 " packets at 100 kpps: send-time error p50 %s, p99 %s, max %s", n, m[1].str().c_str(),
                          m[2].str().c_str(), m[3].str().c_str());
        } else {
            std::replace(out.begin(), out.end(), '\n', ' ');
            _pacing = "pacing run failed: " + out;
        }
        std::printf("%s\n", _pacing.c_str());
        sh("rm -f " + quote(file));
    }

    std::optional<double> lossless(const std::string& tool) const {
        std::optional<double> best;
        for (const auto& s : _steps) {
            if (s.tool == tool && s.error.empty() && s.loss_pct() == 0) {
                best = std::max(best.value_or(0), s.offered_mpps);
            }
        }
        return best;
    }

    int finish() {
        mkdir(_out.c_str(), 0755);
        std::ostringstream md, js;
        md << "Measured by `scripts/bench.sh` on " << _machine << (_quick ? " (quick run)" : "") << ".\n\n";
        md << "### Capture: 64/512/1500-byte frames, generator unpaced (one core), each tool on the other core, "
              "files on tmpfs\n\n";
        md << "| tool | frame | offered | delivered | written | loss | rate written | own CPU /Mpkt | machine CPU /Mpkt |\n";
        md << "|---|---|---|---|---|---|---|---|---|\n";
        for (const auto& p : _table) {
            if (!p.error.empty()) {
                md << "| " << p.tool << " | " << p.size << " B | " << p.error << " ||||||\n";
                continue;
            }
            md << fmt("| %s | %u B | %" PRIu64 " (%.2f Mpps) | %" PRIu64 " | %" PRIu64 " | %.3f%% | %.2f Mpps | %.3f s | %.3f s |\n",
                      p.tool.c_str(), p.size, p.offered, p.offered_mpps, p.delivered, p.written, p.loss_pct(),
                      p.written_mpps, p.proc_s_per_mpkt(), p.machine_s_per_mpkt());
        }
        md << "\n### Highest lossless rate, 64-byte frames (offered rate stepped from 0.5 to 4 Mpps; the generator "
              "reaches less where the receiving path costs its core more)\n\n";
        md << "| tool | lossless up to | own CPU per packet there | losses (% at Mpps offered) |\n|---|---|---|---|\n";
        for (const char* tool : {"xcap", "tcpdump", "netsniff-ng"}) {
            auto best = lossless(tool);
            double ns = 0;
            for (const auto& s : _steps) {
                if (s.tool == tool && best && s.offered_mpps == *best) {
                    ns = s.proc_s_per_mpkt() * 1e3;
                }
            }
            std::string lossy;
            for (const auto& s : _steps) {
                if (s.tool == tool && s.error.empty() && s.loss_pct() > 0) {
                    lossy += (lossy.empty() ? "" : ", ") + fmt("%.3f%% at %.2f", s.loss_pct(), s.offered_mpps);
                }
            }
            md << "| " << tool << " | " << (best ? fmt("%.2f Mpps", *best) : std::string("none")) << " | "
               << (best ? fmt("%.0f ns", ns) : std::string("-")) << " | " << (lossy.empty() ? "none" : lossy) << " |\n";
        }
        md << "| xdpdump | cannot run here (see above) | - | - |\n";
        md << "\n### Replay, --topspeed (each tool on one core, receiver drops in XDP)\n\n";
        md << "| tool | frame | sent | delivered | rate |\n|---|---|---|---|---|\n";
        for (const auto& r : _replays) {
            if (!r.error.empty()) {
                md << "| " << r.tool << " | " << r.size << " B | " << r.error << " |||\n";
                continue;
            }
            md << fmt("| %s | %u B | %" PRIu64 " | %" PRIu64 " | %.3f Mpps |\n", r.tool.c_str(), r.size, r.sent, r.delivered, r.mpps);
        }
        md << "\nPacing: " << _pacing << "\n";

        js << "{\n  \"machine\": \"" << _machine << "\",\n  \"quick\": " << (_quick ? "true" : "false") << ",\n  \"capture\": [\n";
        auto cap_json = [&](const std::vector<capture_point>& v) {
            for (size_t i = 0; i < v.size(); ++i) {
                const auto& p = v[i];
                js << fmt("    {\"tool\": \"%s\", \"frame\": %u, \"asked_mpps\": %.2f, \"offered\": %" PRIu64
                          ", \"offered_mpps\": %.4f, \"delivered\": %" PRIu64 ", \"written\": %" PRIu64
                          ", \"loss_pct\": %.4f, \"written_mpps\": %.4f, \"own_cpu_s\": %.3f, \"machine_cpu_s\": %.3f, "
                          "\"error\": \"%s\"}%s\n",
                          p.tool.c_str(), p.size, p.asked_mpps, p.offered, p.offered_mpps, p.delivered, p.written,
                          p.loss_pct(), p.written_mpps, p.proc_cpu_s, p.machine_cpu_s,
                          std::regex_replace(p.error, std::regex("[\"\\\\]"), "'").c_str(), i + 1 < v.size() ? "," : "");
            }
        };
        cap_json(_table);
        js << "  ],\n  \"steps\": [\n";
        cap_json(_steps);
        js << "  ],\n  \"replay\": [\n";
        for (size_t i = 0; i < _replays.size(); ++i) {
            const auto& r = _replays[i];
            js << fmt("    {\"tool\": \"%s\", \"frame\": %u, \"sent\": %" PRIu64 ", \"delivered\": %" PRIu64
                      ", \"mpps\": %.4f}%s\n",
                      r.tool.c_str(), r.size, r.sent, r.delivered, r.mpps, i + 1 < _replays.size() ? "," : "");
        }
        js << "  ],\n  \"pacing\": \"" << _pacing << "\"\n}\n";
        std::ofstream(_out + "/latest.md") << md.str();
        std::ofstream(_out + "/latest.json") << js.str();

        // captured rate against offered rate, per tool
        std::ofstream dat(_tmp + "/steps.dat");
        for (const char* tool : {"xcap", "tcpdump", "netsniff-ng"}) {
            dat << "\"" << tool << "\"\n";
            for (const auto& s : _steps) {
                if (s.tool == tool && s.error.empty() && s.offered) {
                    // the rate written = offered rate × the fraction written
                    dat << s.offered_mpps << " " << s.offered_mpps * double(s.written) / double(s.offered) << "\n";
                }
            }
            dat << "\n\n";
        }
        dat.close();
        std::ofstream gp(_tmp + "/plot.gp");
        gp << "set terminal png size 800,500\nset output '" << _out << "/capture.png'\n"
           << "set title 'Captured against offered rate, 64-byte frames (" << _machine << ")' font ',9'\n"
           << "set xlabel 'offered (Mpps)'\nset ylabel 'written to the file (Mpps)'\nset key left top\nset grid\n"
           << "plot x title 'lossless' dt 2 lc rgb 'gray', for [i=0:2] '" << _tmp
           << "/steps.dat' index i using 1:2 with linespoints title columnheader(1)\n";
        gp.close();
        if (sh("gnuplot " + quote(_tmp + "/plot.gp")).status != 0) {
            std::fprintf(stderr, "xcap-bench: gnuplot failed; no plot\n");
        }
        std::printf("\n%s\nwritten to %s/latest.md, latest.json, capture.png\n", md.str().c_str(), _out.c_str());
        return g_interrupted ? 130 : 0;
    }

    std::string _out;
    bool _quick;
    veth_pair _net;
    std::string _tmp;
    std::string _shm;  // capture files (tmpfs)
    std::string _machine;
    std::string _pacing = "not measured";
    std::vector<capture_point> _table, _steps;
    std::vector<replay_point> _replays;
};

}  // namespace

int main(int argc, char** argv) {
    std::string out = "bench/results";
    bool quick = false;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--out" && i + 1 < argc) {
            out = argv[++i];
        } else if (a == "--quick") {
            quick = true;
        } else {
            std::fprintf(stderr, "usage: xcap-bench [--out DIR] [--quick]\n");
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
    bench b(out, quick);
    return b.run();
}
