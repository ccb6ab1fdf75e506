#include "capture/rx_program.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "common/error.h"
#include "xcap_rx.skel.h"

namespace xcap {

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
    _attachment.detach();
    munmap(const_cast<xcap_queue_seq*>(_seq), _seq_size);
    xcap_rx_bpf__destroy(_skel);
}

int rx_program::prog_fd() const { return bpf_program__fd(_skel->progs.xcap_rx); }

int rx_program::xsks_map_fd() const { return bpf_map__fd(_skel->maps.xcap_xsks); }

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
