#include "engine/privileges.h"

#include <grp.h>
#include <linux/bpf.h>
#include <linux/capability.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "common/error.h"
#include "engine/caps.h"

namespace xcap {

namespace {

struct cap_sets {
    uint64_t effective = 0;
    uint64_t permitted = 0;
    uint64_t inheritable = 0;
};

cap_sets get_caps() {
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3]{};
    cap_sets s;
    if (syscall(SYS_capget, &header, data) == 0) {
        s.effective = uint64_t(data[0].effective) | (uint64_t(data[1].effective) << 32);
        s.permitted = uint64_t(data[0].permitted) | (uint64_t(data[1].permitted) << 32);
        s.inheritable = uint64_t(data[0].inheritable) | (uint64_t(data[1].inheritable) << 32);
    }
    return s;
}

int set_caps(const cap_sets& s) {
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3]{};
    data[0] = {uint32_t(s.effective), uint32_t(s.permitted), uint32_t(s.inheritable)};
    data[1] = {uint32_t(s.effective >> 32), uint32_t(s.permitted >> 32), uint32_t(s.inheritable >> 32)};
    return syscall(SYS_capset, &header, data) == 0 ? 0 : errno;
}

// Linux before 6.5 refuses every bpf() command to a process without CAP_BPF
// (or CAP_SYS_ADMIN) while kernel.unprivileged_bpf_disabled is set, even on
// objects it already holds; later kernels check only map creation and
// program loading. Asked with the effective set emptied for a moment (what
// capable() reads) and a command on fd -1: refused (EPERM) before the fd is
// looked at, or EBADF.
bool bpf_usable_without_capabilities() {
    const cap_sets now = get_caps();
    if (now.effective != 0 && set_caps({0, now.permitted, now.inheritable}) != 0) {
        return true;  // cannot ask; the drop itself will say what failed
    }
    union bpf_attr attr {};
    attr.info.bpf_fd = uint32_t(-1);
    const long rc = syscall(SYS_bpf, BPF_OBJ_GET_INFO_BY_FD, &attr, sizeof(attr.info));
    const int err = errno;
    if (now.effective != 0) {
        set_caps(now);
    }
    return !(rc < 0 && err == EPERM);
}

std::optional<passwd> find_user(const std::string& name, std::vector<char>& buf) {
    passwd pw{};
    passwd* found = nullptr;
    buf.resize(16384);
    if (getpwnam_r(name.c_str(), &pw, buf.data(), buf.size(), &found) != 0 || !found) {
        return std::nullopt;
    }
    return pw;
}

void switch_user(const run_as_user& user) {
    const std::string who = "-Z " + user.name;
    if (initgroups(user.name.c_str(), user.gid) != 0) {
        throw failure(failure_kind::permission, errno, who + ": cannot take the user's groups", "run as root");
    }
    if (setresgid(user.gid, user.gid, user.gid) != 0) {
        throw failure(failure_kind::permission, errno, who + ": cannot switch to group " + std::to_string(user.gid),
                      "run as root");
    }
    if (setresuid(user.uid, user.uid, user.uid) != 0) {
        throw failure(failure_kind::permission, errno, who + ": cannot switch to uid " + std::to_string(user.uid),
                      "run as root");
    }
    uid_t r = 0, e = 0, s = 0;
    if (getresuid(&r, &e, &s) != 0 || r != user.uid || e != user.uid || s != user.uid) {
        throw failure(failure_kind::permission, who + ": the switch to uid " + std::to_string(user.uid) + " did not hold");
    }
}

void drop_all_capabilities() {
    // Ambient capabilities would pass to the -z commands; EINVAL before 4.3.
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
    if (int err = set_caps({}); err != 0) {
        throw failure(failure_kind::permission, err, "cannot drop xcap's capabilities after setup");
    }
    const cap_sets left = get_caps();
    if (left.effective != 0 || left.permitted != 0) {
        throw failure(failure_kind::permission, "capabilities left after dropping them (CapEff " +
                                                    std::to_string(left.effective) + ", CapPrm " +
                                                    std::to_string(left.permitted) + ")");
    }
}

const char* const bpf_refused =
    "this kernel refuses bpf() to a process without CAP_BPF (kernel.unprivileged_bpf_disabled, Linux before 6.5), "
    "and xcap reads its counters through bpf() until it exits";

}  // namespace

uint64_t permitted_capabilities() { return get_caps().permitted; }

std::optional<run_as_user> choose_run_as(const std::optional<std::string>& requested) {
    std::vector<char> buf;
    if (!requested) {
        if (geteuid() != 0) {
            return std::nullopt;
        }
        auto pw = find_user(default_run_as, buf);
        if (!pw || pw->pw_uid == 0) {
            return std::nullopt;
        }
        return run_as_user{default_run_as, pw->pw_uid, pw->pw_gid, false};
    }
    auto pw = find_user(*requested, buf);
    if (!pw) {
        throw failure(failure_kind::usage, "-Z " + *requested + ": no such user on this machine",
                      "name an existing user, e.g. -Z nobody");
    }
    if (pw->pw_uid == 0 || pw->pw_uid == geteuid()) {
        return std::nullopt;  // nothing to switch to; capabilities still go
    }
    if (geteuid() != 0) {
        for (int bit : {CAP_SETUID, CAP_SETGID}) {
            if (!((effective_capabilities() >> bit) & 1)) {
                throw failure(failure_kind::permission,
                              "-Z " + *requested + ": not root; missing " +
                                  (bit == CAP_SETUID ? "CAP_SETUID" : "CAP_SETGID") + " (to switch to another user)",
                              "run as root, grant cap_setuid,cap_setgid too, or leave -Z out (xcap drops its "
                              "capabilities once set up anyway)");
            }
        }
    }
    // Asked now, before anything is attached, so that the refusal leaves nothing behind.
    if (!bpf_usable_without_capabilities()) {
        throw failure(failure_kind::unsupported, "-Z " + *requested + ": " + bpf_refused,
                      "leave -Z out on this kernel");
    }
    return run_as_user{*requested, pw->pw_uid, pw->pw_gid, true};
}

privilege_drop drop_privileges(const std::optional<run_as_user>& user) {
    privilege_drop r;
    const bool root = geteuid() == 0;
    if (!user && (root || permitted_capabilities() == 0)) {
        return r;  // root without a user to become keeps root, as before -Z existed
    }
    if (!bpf_usable_without_capabilities()) {
        if (user && user->explicit_choice) {
            throw failure(failure_kind::unsupported, "-Z " + user->name + ": " + bpf_refused,
                          "leave -Z out on this kernel");
        }
        r.skipped_because = bpf_refused;
        return r;
    }
    if (user) {
        switch_user(*user);
        r.switched = true;
    }
    drop_all_capabilities();
    r.dropped_caps = true;
    return r;
}

}  // namespace xcap
