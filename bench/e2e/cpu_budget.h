#pragma once
// A child cgroup that holds a capture tool to a share of one core (the
// budget phase). Single-threaded.
#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cinttypes>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <string>

#include "util.h"

namespace xcap::e2e {

// A child cgroup that holds a capture tool to `percent` of one core, made for
// one run and removed when it ends (the destructor moves anything still in it
// back to the parent first). cgroup v2's cpu.max where the v2 hierarchy has
// the cpu controller; otherwise the v1 cpu controller's CFS quota, which is
// the same kernel mechanism (CFS bandwidth control, 100 ms period).
class cpu_budget {
public:
    static constexpr uint64_t period_us = 100'000;

    explicit cpu_budget(int percent);

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

}  // namespace xcap::e2e
