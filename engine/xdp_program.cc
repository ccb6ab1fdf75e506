#include "engine/xdp_program.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <sys/mman.h>
#include <unistd.h>
#include <xdp/libxdp.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <vector>

#include "common/error.h"
#include "xcap_rx.skel.h"

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
    int fd = bpf_prog_get_fd_by_id(id);
    if (fd < 0) {
        return "?";
    }
    bpf_prog_info info{};
    uint32_t len = sizeof(info);
    std::string name = "?";
    if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0) {
        name = info.name[0] ? info.name : "(unnamed)";
    }
    close(fd);
    return name;
}

// True when an XDP bpf_link points at `ifindex`: such an attachment cannot be
// replaced or removed through netlink.
bool has_xdp_link(unsigned ifindex) {
    uint32_t id = 0;
    while (bpf_link_get_next_id(id, &id) == 0) {
        int fd = bpf_link_get_fd_by_id(id);
        if (fd < 0) {
            continue;
        }
        bpf_link_info info{};
        uint32_t len = sizeof(info);
        bool match = bpf_obj_get_info_by_fd(fd, &info, &len) == 0 && info.type == BPF_LINK_TYPE_XDP &&
                     info.xdp.ifindex == ifindex;
        close(fd);
        if (match) {
            return true;
        }
    }
    return false;
}

}  // namespace

const char* to_string(xdp_mode mode) {
    switch (mode) {
        case xdp_mode::native: return "native";
        case xdp_mode::generic: return "generic";
        case xdp_mode::automatic: break;
    }
    return "auto";
}

void route_library_logs(bool verbose) {
    g_verbose_libs = verbose;
    libbpf_set_print(libbpf_log);
    libxdp_set_print(libxdp_log);
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
    p.through_link = has_xdp_link(ifindex);
    return p;
}

void remove_attached(unsigned ifindex, const std::string& ifname) {
    auto current = query_attached(ifindex);
    if (!current) {
        return;
    }
    if (current->through_link) {
        throw failure(failure_kind::xdp_busy, EBUSY,
                          "cannot remove XDP program '" + current->name + "' from " + ifname,
                          "it is held by a bpf_link of another process; stop that process");
    }
    int err = 0;
    xdp_multiprog* mp = xdp_multiprog__get_from_ifindex(int(ifindex));
    if (!libxdp_get_error(mp) && mp) {
        err = xdp_multiprog__detach(mp);
        xdp_multiprog__close(mp);
    } else {
        err = -EINVAL;
    }
    if (err) {
        // libxdp could not parse what is there; take it off mode by mode.
        bpf_xdp_detach(int(ifindex), XDP_FLAGS_SKB_MODE, nullptr);
        bpf_xdp_detach(int(ifindex), XDP_FLAGS_DRV_MODE, nullptr);
    }
    if (query_attached(ifindex)) {
        throw failure(failure_kind::xdp_busy, EBUSY,
                          "cannot remove XDP program '" + current->name + "' from " + ifname,
                          "remove it by hand with `ip link set dev " + ifname + " xdp off`");
    }
}

rx_program::rx_program() {
    _skel = xcap_rx_bpf__open();
    if (!_skel) {
        throw failure(failure_kind::runtime, errno, "cannot open the capture BPF program");
    }
    if (int err = xcap_rx_bpf__load(_skel)) {
        xcap_rx_bpf__destroy(_skel);
        _skel = nullptr;
        auto kind = (err == -EPERM || err == -EACCES) ? failure_kind::permission : failure_kind::unsupported;
        throw failure(kind, -err, "the kernel refused to load the capture BPF program",
                          "xcap needs XDP and AF_XDP support (Linux 5.10 or later) and CAP_BPF");
    }
    const size_t page = size_t(sysconf(_SC_PAGESIZE));
    _seq_size = (sizeof(xcap_queue_seq) * XCAP_MAX_QUEUES + page - 1) / page * page;
    void* m = mmap(nullptr, _seq_size, PROT_READ, MAP_SHARED, bpf_map__fd(_skel->maps.xcap_seq), 0);
    if (m == MAP_FAILED) {
        int e = errno;
        xcap_rx_bpf__destroy(_skel);
        _skel = nullptr;
        throw failure(failure_kind::unsupported, e, "cannot map the capture program's queue counters",
                          "xcap needs mmapable BPF arrays (Linux 5.5 or later)");
    }
    _seq = static_cast<const xcap_queue_seq*>(m);
}

rx_program::~rx_program() {
    detach();
    if (_seq) {
        munmap(const_cast<xcap_queue_seq*>(_seq), _seq_size);
    }
    if (_skel) {
        xcap_rx_bpf__destroy(_skel);
    }
}

int rx_program::xsks_map_fd() const { return bpf_map__fd(_skel->maps.xcap_xsks); }

uint32_t rx_program::id() const {
    bpf_prog_info info{};
    uint32_t len = sizeof(info);
    if (bpf_obj_get_info_by_fd(bpf_program__fd(_skel->progs.xcap_rx), &info, &len) != 0) {
        return 0;
    }
    return info.id;
}

void rx_program::attach(unsigned ifindex, const std::string& ifname, xdp_mode mode) {
    std::vector<xdp_mode> tries;
    if (mode == xdp_mode::automatic) {
        tries = {xdp_mode::native, xdp_mode::generic};
    } else {
        tries = {mode};
    }
    int err = 0;
    for (auto m : tries) {
        LIBBPF_OPTS(bpf_link_create_opts, opts);
        opts.flags = m == xdp_mode::native ? XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE;
        int fd = bpf_link_create(bpf_program__fd(_skel->progs.xcap_rx), int(ifindex), BPF_XDP, &opts);
        if (fd >= 0) {
            _link_fd = fd;
            _mode = m;
            return;
        }
        err = errno;
        if (err == EBUSY || err == EEXIST) {
            break;  // something else is attached; a different mode will not help
        }
    }
    if (err == EBUSY || err == EEXIST) {
        auto cur = query_attached(ifindex);
        std::string what = cur ? "'" + cur->name + "' (id " + std::to_string(cur->id) + ", " + cur->mode + ")"
                               : "another program";
        throw failure(failure_kind::xdp_busy, err, ifname + " already has XDP program " + what,
                          "remove it, or pass --force to replace it");
    }
    std::string asked = mode == xdp_mode::automatic ? "native or generic" : to_string(mode);
    throw failure(failure_kind::unsupported, err, "cannot attach XDP in " + asked + " mode to " + ifname,
                      mode == xdp_mode::native ? "the driver may lack native XDP; try --xdp-mode generic"
                                               : "check that the kernel supports XDP on this interface");
}

void rx_program::detach() {
    if (_link_fd >= 0) {
        close(_link_fd);
        _link_fd = -1;
        _mode = xdp_mode::automatic;
    }
}

xcap_rx_counters rx_program::counters() const {
    xcap_rx_counters sum{};
    int ncpu = libbpf_num_possible_cpus();
    if (ncpu <= 0) {
        return sum;
    }
    std::vector<xcap_rx_counters> per_cpu(static_cast<size_t>(ncpu));
    uint32_t key = 0;
    if (bpf_map_lookup_elem(bpf_map__fd(_skel->maps.xcap_counters), &key, per_cpu.data()) != 0) {
        return sum;
    }
    for (const auto& c : per_cpu) {
        sum.seen += c.seen;
        sum.redirected += c.redirected;
        sum.passed_no_socket += c.passed_no_socket;
    }
    return sum;
}

}  // namespace xcap
