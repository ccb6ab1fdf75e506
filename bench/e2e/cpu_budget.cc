#include "cpu_budget.h"

#include <sys/stat.h>

namespace xcap::e2e {

cpu_budget::cpu_budget(int percent) {
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

}  // namespace xcap::e2e
