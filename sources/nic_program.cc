#include "sources/nic_program.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cerrno>

#include "common/error.h"
#include "sources/per_cpu.h"
#include "engine/netdev_features.h"
#include "xcap_nic.skel.h"

// Debian 12's UAPI headers (Linux 6.1) do not have it yet; the value is ABI.
#ifndef BPF_F_XDP_DEV_BOUND_ONLY
#define BPF_F_XDP_DEV_BOUND_ONLY (1U << 6)
#endif

namespace xcap {

nic_metadata query_nic_metadata(uint32_t ifindex) {
    nic_metadata m;
    try {
        const netdev_report r = query_netdev_features();
        auto it = r.by_ifindex.find(ifindex);
        if (!r.reported || it == r.by_ifindex.end() || !it->second.has_rx_metadata) {
            return m;
        }
        m.reported = true;
        m.timestamp = it->second.rx_metadata & 1;
        m.vlan_tag = it->second.rx_metadata & 4;
    } catch (const failure&) {
        // Nothing known: the caller says what that means.
    }
    return m;
}

unique_fd create_nic_state_map() {
    int fd = bpf_map_create(BPF_MAP_TYPE_PERCPU_ARRAY, "xcap_nic_state", sizeof(uint32_t), sizeof(xcap_nic_state), 1,
                            nullptr);
    if (fd < 0) {
        throw failure(errno == EPERM ? failure_kind::permission : failure_kind::runtime, errno,
                      "cannot create the device-bound program's state map");
    }
    return unique_fd(fd);
}

void nic_program::skeleton_deleter::operator()(xcap_nic_bpf* s) const { xcap_nic_bpf__destroy(s); }

nic_program::nic_program(const device_info& dev, const options& opts) : _frags(opts.frags) {
    _skel.reset(xcap_nic_bpf__open());
    if (!_skel) {
        throw failure(failure_kind::runtime, errno, "cannot open the device-bound BPF program");
    }
    _skel->rodata->want_vlan = opts.vlan;
    _skel->rodata->want_ts = opts.timestamp;
    bpf_program* entry = opts.frags ? _skel->progs.xcap_nic : _skel->progs.xcap_nic_1buf;
    bpf_program* other = opts.frags ? _skel->progs.xcap_nic_1buf : _skel->progs.xcap_nic;
    bpf_program__set_autoload(other, false);
    bpf_program__set_autoload(opts.frags ? _skel->progs.xcap_untag_1buf : _skel->progs.xcap_untag, false);
    // Bound to the device: the kfuncs become the driver's own functions.
    bpf_program__set_ifindex(entry, dev.ifindex);
    bpf_program__set_flags(entry, BPF_F_XDP_DEV_BOUND_ONLY | (opts.frags ? BPF_F_XDP_HAS_FRAGS : 0));
    if (opts.state_map_fd >= 0) {
        if (int err = bpf_map__reuse_fd(_skel->maps.xcap_nic_state, opts.state_map_fd)) {
            throw failure(failure_kind::runtime, -err, "cannot hand the state map to the device-bound BPF program");
        }
    }
    if (int err = xcap_nic_bpf__load(_skel.get())) {
        throw failure(err == -EPERM ? failure_kind::permission : failure_kind::unsupported, -err,
                      "the kernel refused the device-bound BPF program for " + dev.name,
                      "reading VLAN tags and time stamps in XDP needs Linux 6.8 or later");
    }
}

nic_program::~nic_program() = default;

int nic_program::prog_fd() const {
    return bpf_program__fd(_frags ? _skel->progs.xcap_nic : _skel->progs.xcap_nic_1buf);
}

int nic_program::untag_fd() const {
    return bpf_program__fd(_frags ? _skel->progs.xcap_untag : _skel->progs.xcap_untag_1buf);
}

void nic_program::set_next(int prog_fd) {
    uint32_t key = 0;
    uint32_t value = uint32_t(prog_fd);
    if (bpf_map_update_elem(bpf_map__fd(_skel->maps.xcap_nic_next), &key, &value, BPF_ANY) != 0) {
        throw failure(failure_kind::unsupported, errno, "chaining the device-bound program to the capture program");
    }
}

xcap_nic_counters nic_program::counters() const {
    return per_cpu_sum<xcap_nic_counters>(bpf_map__fd(_skel->maps.xcap_nic_counters), 0);
}

}  // namespace xcap
