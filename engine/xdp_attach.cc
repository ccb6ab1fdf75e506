#include "engine/xdp_attach.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <linux/if_link.h>
#include <unistd.h>
#include <xdp/libxdp.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "common/error.h"

namespace xcap {
namespace {

bool g_verbose_libs = false;

int libbpf_log(enum libbpf_print_level level, const char* fmt, va_list args) {
    // Failures reach the user as xcap's own error line; the libraries' lines
    // are detail for -v.
    if (!g_verbose_libs || level == LIBBPF_DEBUG) {
        return 0;
    }
    std::fputs("xcap: libbpf: ", stderr);
    return std::vfprintf(stderr, fmt, args);
}

int libxdp_log(enum libxdp_print_level, const char* fmt, va_list args) {
    if (!g_verbose_libs) {
        return 0;
    }
    std::fputs("xcap: libxdp: ", stderr);
    return std::vfprintf(stderr, fmt, args);
}

std::string program_name(uint32_t id) {
    unique_fd fd(bpf_prog_get_fd_by_id(id));
    if (!fd) {
        return "?";
    }
    bpf_prog_info info{};
    uint32_t len = sizeof(info);
    if (bpf_obj_get_info_by_fd(fd.get(), &info, &len) != 0) {
        return "?";
    }
    return info.name[0] ? info.name : "(unnamed)";
}

// The XDP bpf_link that attaches program `prog_id` to `ifindex`, or 0: such
// an attachment cannot be replaced or removed through netlink. Links are
// listed system-wide and an ifindex is only unique within its network
// namespace, so the program must match too (each attachment here has its own).
uint32_t xdp_link_id(unsigned ifindex, uint32_t prog_id) {
    uint32_t id = 0;
    while (bpf_link_get_next_id(id, &id) == 0) {
        unique_fd fd(bpf_link_get_fd_by_id(id));
        if (!fd) {
            continue;
        }
        bpf_link_info info{};
        uint32_t len = sizeof(info);
        if (bpf_obj_get_info_by_fd(fd.get(), &info, &len) == 0 && info.type == BPF_LINK_TYPE_XDP &&
            info.xdp.ifindex == ifindex && info.prog_id == prog_id) {
            return id;
        }
    }
    return 0;
}

}  // namespace

std::vector<pid_t> bpf_object_holders(const char* anon_inode, const std::string& fdinfo_line) {
    std::vector<pid_t> out;
    DIR* proc = opendir("/proc");
    if (!proc) {
        return out;
    }
    while (dirent* p = readdir(proc)) {
        char* end = nullptr;
        long pid = std::strtol(p->d_name, &end, 10);
        if (pid <= 0 || *end || pid == getpid()) {
            continue;
        }
        const std::string base = "/proc/" + std::string(p->d_name);
        DIR* fds = opendir((base + "/fd").c_str());
        if (!fds) {
            continue;
        }
        bool holds = false;
        while (!holds) {
            dirent* f = readdir(fds);
            if (!f) {
                break;
            }
            if (f->d_name[0] == '.') {
                continue;
            }
            // Only descriptors of the kind asked for: reading every fdinfo
            // of every process would be slow.
            char target[64] = {};
            std::string fd_path = base + "/fd/" + f->d_name;
            if (readlink(fd_path.c_str(), target, sizeof(target) - 1) <= 0 || std::strcmp(target, anon_inode) != 0) {
                continue;
            }
            std::ifstream info(base + "/fdinfo/" + f->d_name);
            for (std::string line; std::getline(info, line);) {
                if (line == fdinfo_line) {
                    holds = true;
                    break;
                }
            }
        }
        closedir(fds);
        if (holds) {
            out.push_back(pid_t(pid));
        }
    }
    closedir(proc);
    return out;
}

namespace {

// Processes with a descriptor of bpf_link `link_id`, with their command names.
std::vector<link_holder> link_holders(uint32_t link_id) {
    std::vector<link_holder> out;
    for (pid_t pid : bpf_object_holders("anon_inode:bpf_link", "link_id:\t" + std::to_string(link_id))) {
        link_holder h;
        h.pid = pid;
        std::ifstream comm("/proc/" + std::to_string(pid) + "/comm");
        std::getline(comm, h.command);
        out.push_back(h);
    }
    return out;
}

}  // namespace

const char* to_string(xdp_mode mode) {
    static constexpr const char* names[] = {"auto", "native", "generic"};  // in the enum's order
    return names[static_cast<size_t>(mode)];
}

void route_library_logs(bool verbose) {
    g_verbose_libs = verbose;
    libbpf_set_print(libbpf_log);
    libxdp_set_print(libxdp_log);
}

std::string attached_program::describe() const {
    std::string s = "'" + name + "' (id " + std::to_string(id) + ", " + mode + " mode";
    if (link_id) {
        s += ", bpf_link " + std::to_string(link_id);
        for (const auto& h : holders) {
            s += ", held by " + h.command + " pid " + std::to_string(h.pid);
        }
    }
    return s + ")";
}

std::string attached_program::removal_advice(const std::string& ifname) const {
    if (!link_id) {
        return "remove it (`ip link set dev " + ifname + " xdp off`) or pass --force";
    }
    // A bpf_link attachment goes away only with the last descriptor of it.
    if (holders.empty()) {
        return "it is attached through a bpf_link (pinned, or held by a process in another PID namespace): "
               "remove that pin or stop that process";
    }
    std::string who;
    for (const auto& h : holders) {
        who += (who.empty() ? "" : ", ") + std::to_string(h.pid);
    }
    return "it is attached through a bpf_link that only its holder can remove: stop process " + who +
           " (" + holders.front().command + ")";
}

std::optional<attached_program> query_attached(unsigned ifindex) {
    LIBBPF_OPTS(bpf_xdp_query_opts, q);
    if (bpf_xdp_query(int(ifindex), 0, &q) != 0) {
        return std::nullopt;
    }
    attached_program p;
    switch (q.attach_mode) {
        case XDP_ATTACHED_DRV: p.id = q.drv_prog_id; p.mode = "native"; break;
        case XDP_ATTACHED_SKB: p.id = q.skb_prog_id; p.mode = "generic"; break;
        case XDP_ATTACHED_HW: p.id = q.hw_prog_id; p.mode = "offload"; break;
        case XDP_ATTACHED_MULTI: p.id = q.prog_id; p.mode = "multi"; break;
        default: return std::nullopt;
    }
    if (p.id == 0) {
        p.id = q.prog_id;
    }
    p.name = program_name(p.id);
    p.link_id = xdp_link_id(ifindex, p.id);
    if (p.link_id) {
        p.holders = link_holders(p.link_id);
    }
    return p;
}

void remove_attached(const device_info& dev) {
    auto current = query_attached(dev.ifindex);
    if (!current) {
        return;
    }
    if (current->link_id) {
        throw failure(failure_kind::xdp_busy, EBUSY,
                      "cannot remove XDP program " + current->describe() + " from " + dev.name,
                      current->removal_advice(dev.name));
    }
    int err = 0;
    xdp_multiprog* mp = xdp_multiprog__get_from_ifindex(int(dev.ifindex));
    if (!libxdp_get_error(mp) && mp) {
        err = xdp_multiprog__detach(mp);
        xdp_multiprog__close(mp);
    } else {
        err = -EINVAL;
    }
    if (err) {
        // libxdp could not parse what is there; take it off mode by mode.
        bpf_xdp_detach(int(dev.ifindex), XDP_FLAGS_SKB_MODE, nullptr);
        bpf_xdp_detach(int(dev.ifindex), XDP_FLAGS_DRV_MODE, nullptr);
    }
    if (query_attached(dev.ifindex)) {
        throw failure(failure_kind::xdp_busy, EBUSY,
                      "cannot remove XDP program '" + current->name + "' from " + dev.name,
                      "remove it by hand with `ip link set dev " + dev.name + " xdp off`");
    }
}

xdp_takeover::xdp_takeover(const device_info& dev, bool force, const std::string& refusal_hint)
    : _dev(dev), _foreign(query_attached(dev.ifindex)) {
    if (_foreign && !force) {
        throw failure(failure_kind::xdp_busy, EBUSY,
                      dev.name + " already has XDP program " + _foreign->describe(),
                      "xcap will not replace it: " +
                          (refusal_hint.empty() ? _foreign->removal_advice(dev.name) : refusal_hint));
    }
    if (_foreign && _foreign->link_id) {
        // --force cannot take over a bpf_link: say so now, before any setup.
        throw failure(failure_kind::xdp_busy, EBUSY,
                      dev.name + " has XDP program " + _foreign->describe() + ", which --force cannot remove",
                      _foreign->removal_advice(dev.name));
    }
}

void xdp_takeover::apply(const std::function<void(const std::string&)>& info) {
    if (!_foreign) {
        return;
    }
    info(_dev.name + ": removing XDP program '" + _foreign->name + "' (--force)");
    remove_attached(_dev);
    _foreign.reset();
}

void xdp_attachment::attach(int prog_fd, const device_info& dev, xdp_mode mode) {
    std::vector<xdp_mode> tries;
    if (mode == xdp_mode::automatic) {
        tries = {xdp_mode::native, xdp_mode::generic};
    } else {
        tries = {mode};
    }
    int err = 0;
    int native_err = 0;
    for (auto m : tries) {
        LIBBPF_OPTS(bpf_link_create_opts, opts);
        opts.flags = m == xdp_mode::native ? XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE;
        int fd = bpf_link_create(prog_fd, int(dev.ifindex), BPF_XDP, &opts);
        if (fd >= 0) {
            _link.reset(fd);
            _mode = m;
            return;
        }
        err = errno;
        if (m == xdp_mode::native) {
            native_err = err;
        }
        if (err == EBUSY || err == EEXIST) {
            break;  // something else is attached; a different mode will not help
        }
    }
    if (err == EBUSY || err == EEXIST) {
        auto cur = query_attached(dev.ifindex);
        throw failure(failure_kind::xdp_busy, err,
                      dev.name + " already has XDP program " + (cur ? cur->describe() : "(another program)"),
                      cur ? cur->removal_advice(dev.name) : "remove it, or pass --force to replace it");
    }
    std::string asked = mode == xdp_mode::automatic ? "native or generic" : to_string(mode);
    if (native_err == ERANGE && mode == xdp_mode::native) {
        // veth and most drivers refuse native XDP when a frame would not fit a page.
        throw failure(failure_kind::unsupported, err,
                      "cannot attach native XDP to " + dev.name + ": its MTU " + std::to_string(dev.mtu) +
                          " is too large for native XDP on this driver",
                      "lower the MTU (`ip link set dev " + dev.name + " mtu 1500`) or use --xdp-mode generic");
    }
    throw failure(failure_kind::unsupported, err, "cannot attach XDP in " + asked + " mode to " + dev.name,
                  mode == xdp_mode::native ? "the driver may lack native XDP; try --xdp-mode generic"
                                           : "check that the kernel supports XDP on this interface");
}

void xdp_attachment::detach() {
    _link.reset();
    _mode = xdp_mode::automatic;
}

uint32_t program_id(int prog_fd) {
    bpf_prog_info info{};
    uint32_t len = sizeof(info);
    if (bpf_obj_get_info_by_fd(prog_fd, &info, &len) != 0) {
        return 0;
    }
    return info.id;
}

}  // namespace xcap
