#include "sources/rx_program.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "common/error.h"
#include "filter/filter.h"
#include "sources/per_cpu.h"
#include "xcap_rx.skel.h"

namespace xcap {

void rx_program::skeleton_deleter::operator()(xcap_rx_bpf* s) const { xcap_rx_bpf__destroy(s); }
void rx_program::ring_deleter::operator()(ring_buffer* r) const { ring_buffer__free(r); }

namespace {

// Opens and loads the program, with or without BPF_F_XDP_HAS_FRAGS; returns
// the skeleton or null with `err` set.
template <class Owned>
Owned open_and_load(bool frags, nic_link nic, int& err) {
    Owned skel(xcap_rx_bpf__open());
    if (!skel) {
        err = -errno;
        return skel;
    }
    bpf_program__set_autoload(skel->progs.xcap_rx, frags);
    bpf_program__set_autoload(skel->progs.xcap_rx_1buf, !frags);
    skel->rodata->xcap_buff_len = xdp_buff_len_allowed();
    skel->rodata->xcap_untag_after = nic.state_fd >= 0;
    skel->rodata->xcap_nic_time = nic.state_fd >= 0 && nic.time;
    skel->rodata->xcap_meta_in_frame = !xdp_metadata_allowed();
    err = nic.state_fd >= 0 ? bpf_map__reuse_fd(skel->maps.xcap_nic_state, nic.state_fd) : 0;
    err = err ? err : xcap_rx_bpf__load(skel.get());
    if (err) {
        skel.reset();
    }
    return skel;
}

}  // namespace

rx_program::rx_program(bool frags, nic_link nic) {
    int err = 0;
    _skel = open_and_load<decltype(_skel)>(frags, nic, err);
    _frags = frags && _skel;
    if (!_skel && frags && err != -EPERM && err != -EACCES) {
        // Before 5.18 the kernel does not know BPF_F_XDP_HAS_FRAGS.
        _skel = open_and_load<decltype(_skel)>(false, nic, err);
    }
    if (!_skel) {
        auto kind = (err == -EPERM || err == -EACCES) ? failure_kind::permission : failure_kind::unsupported;
        throw failure(kind, -err, "the kernel refused to load the capture BPF program",
                      "xcap needs XDP and AF_XDP support (Linux 5.10 or later) and CAP_BPF");
    }
    const size_t page = size_t(sysconf(_SC_PAGESIZE));
    // Writable: user space sets each queue's doorbell target there.
    _seq_map = map_shared(bpf_map__fd(_skel->maps.xcap_seq),
                          (sizeof(xcap_queue_seq) * XCAP_MAX_QUEUES + page - 1) / page * page);
    if (!_seq_map) {
        throw failure(failure_kind::unsupported, errno, "cannot map the capture program's queue counters",
                      "xcap needs mmapable BPF arrays (Linux 5.5 or later)");
    }
    _seq = reinterpret_cast<xcap_queue_seq*>(_seq_map.get());
    // The records say only which queue rang; clear() skips over them.
    _bell.reset(ring_buffer__new(bpf_map__fd(_skel->maps.xcap_doorbell),
                                 [](void*, void*, size_t) { return 0; }, nullptr, nullptr));
    if (!_bell) {
        throw failure(failure_kind::unsupported, errno, "cannot map the capture program's doorbell ring",
                      "xcap needs BPF ring buffers (Linux 5.8 or later)");
    }
}

int rx_program::fd() const { return bpf_map__fd(_skel->maps.xcap_doorbell); }

void rx_program::clear() { ring_buffer__consume(_bell.get()); }

rx_program::~rx_program() { _attachment.detach(); }

int rx_program::prog_fd() const {
    return bpf_program__fd(_frags ? _skel->progs.xcap_rx : _skel->progs.xcap_rx_1buf);
}

void rx_program::set_max_len(uint32_t bytes) {
    // .bss is mapped into this process: the program sees the store at once.
    __atomic_store_n(&_skel->bss->xcap_max_len, bytes, __ATOMIC_RELAXED);
}

// As loaded: the rodata stays mapped (read-only) after the load.
bool rx_program::meta_in_frame() const { return _skel->rodata->xcap_meta_in_frame != 0; }

int rx_program::xsks_map_fd() const { return bpf_map__fd(_skel->maps.xcap_xsks); }

xcap_rx_counters rx_program::counters() const {
    return per_cpu_sum<xcap_rx_counters>(bpf_map__fd(_skel->maps.xcap_counters), 0);
}

}  // namespace xcap
