#include "engine/caps.h"

#include <linux/capability.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "common/error.h"

namespace xcap {

const std::vector<capability_need>& capture_capabilities() {
    static const std::vector<capability_need> needs = {
        {CAP_NET_ADMIN, "CAP_NET_ADMIN", "attach the XDP program"},
        {CAP_BPF, "CAP_BPF", "load the XDP program"},
        {CAP_PERFMON, "CAP_PERFMON", "pass the verifier's checks on the capture program"},
        {CAP_NET_RAW, "CAP_NET_RAW", "open AF_XDP sockets"},
        {CAP_IPC_LOCK, "CAP_IPC_LOCK", "pin the packet buffers (UMEM)"},
    };
    return needs;
}

std::vector<capability_need> tap_capabilities(bool promiscuous) {
    std::vector<capability_need> needs = {capability(CAP_NET_ADMIN), capability(CAP_BPF)};
    if (promiscuous) {
        needs.push_back({CAP_NET_RAW, "CAP_NET_RAW", "hold promiscuous mode (-p leaves it off)"});
    }
    return needs;
}

const capability_need& capability(int bit) {
    for (const auto& need : capture_capabilities()) {
        if (need.bit == bit) {
            return need;
        }
    }
    return capture_capabilities().front();
}

std::vector<capability_need> missing_capabilities(uint64_t effective,
                                                  const std::vector<capability_need>& needs) {
    std::vector<capability_need> missing;
    for (const auto& need : needs) {
        bool has = (effective >> need.bit) & 1;
        // CAP_SYS_ADMIN is what kernels before 5.8 asked for, and still grants
        // what CAP_BPF and CAP_PERFMON grant.
        if (!has && (need.bit == CAP_BPF || need.bit == CAP_PERFMON)) {
            has = (effective >> CAP_SYS_ADMIN) & 1;
        }
        if (!has) {
            missing.push_back(need);
        }
    }
    return missing;
}

uint64_t effective_capabilities() {
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3]{};
    if (syscall(SYS_capget, &header, data) != 0) {
        return 0;
    }
    return uint64_t(data[0].effective) | (uint64_t(data[1].effective) << 32);
}

void require_capabilities(const std::vector<capability_need>& needs) {
    auto missing = missing_capabilities(effective_capabilities(), needs);
    if (missing.empty()) {
        return;
    }
    std::string names;
    std::string caps;
    for (const auto& m : missing) {
        names += (names.empty() ? "" : ", ") + std::string(m.name) + " (to " + m.why + ")";
    }
    for (const auto& n : needs) {
        std::string lower(n.name);
        for (auto& c : lower) {
            c = static_cast<char>(std::tolower(c));
        }
        caps += (caps.empty() ? "" : ",") + lower;
    }
    throw failure(failure_kind::permission, EPERM,
                      std::string(geteuid() == 0 ? "root without " : "not root; missing ") + names,
                      "run as root, or grant them: setcap " + caps + "+ep $(command -v xcap)");
}

}  // namespace xcap
