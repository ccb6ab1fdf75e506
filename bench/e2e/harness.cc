#include "harness.h"

#include <stdlib.h>
#include <sys/utsname.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>

#include "cpu_budget.h"

namespace xcap::e2e {

namespace {

std::string now_text() {
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
double background_busy_pct() {
    auto a = machine_ticks::read();
    nap_ms(2000);
    auto b = machine_ticks::read();
    return b.total > a.total ? 100.0 * double(b.busy - a.busy) / double(b.total - a.total) : 0;
}

}  // namespace

harness::harness(options opt, std::vector<std::unique_ptr<scenario>> scenarios)
    : _opt(std::move(opt)), _scenarios(std::move(scenarios)), _net(2) {}

harness::~harness() {
    if (!_tmp.empty()) {
        sh("rm -rf " + quote(_tmp));
    }
    if (!_shm.empty() && _shm != _tmp) {
        sh("rm -rf " + quote(_shm));
    }
}

int harness::run() {
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
    for (auto& s : _scenarios) {
        s->run(*this);
    }
    return finish();
}

bool harness::want_tool(const std::string& tool) const {
    return _opt.tools.empty() || std::find(_opt.tools.begin(), _opt.tools.end(), tool) != _opt.tools.end();
}

bool harness::over_time() {
    if (!_out_of_time && double(mono_ns() - _t_start) / 60e9 > _opt.max_minutes) {
        _out_of_time = true;
        std::printf("time limit of %.0f minutes reached: skipping the remaining steps\n", _opt.max_minutes);
    }
    return _out_of_time || g_interrupted;
}

void harness::attach(const std::string& obj) {
    sh("ip -n " + _net.receiver_ns() + " link set dev " + _net.receiver_if() + " xdpdrv obj " + obj + " sec xdp");
}

void harness::detach() { sh("ip -n " + _net.receiver_ns() + " link set dev " + _net.receiver_if() + " xdpdrv off"); }

bool wait_cpu_quiet(child& c, int quiet_ms, double timeout_s, proc_cpu* at) {
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

}  // namespace xcap::e2e
