#include "sources/tap_program.h"

#include <algorithm>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <string>

#include "common/error.h"
#include "sources/per_cpu.h"
#include "filter/interpreter.h"
#include "xcap_tap.skel.h"
#include "xcap_tap_out.skel.h"

// Debian 12's UAPI headers (Linux 6.1) do not have tcx yet; the value is ABI.
#ifndef BPF_TCX_EGRESS
#define BPF_TCX_EGRESS 47
#endif

namespace xcap {
namespace {

// The online CPUs, from "0-3,6" in sysfs; the first `possible` CPUs when it
// cannot be read.
std::vector<uint32_t> online_cpus(uint32_t possible) {
    std::vector<uint32_t> cpus;
    std::ifstream f("/sys/devices/system/cpu/online");
    std::string text;
    if (std::getline(f, text)) {
        size_t pos = 0;
        while (pos < text.size()) {
            size_t comma = text.find(',', pos);
            std::string item = text.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
            size_t dash = item.find('-');
            try {
                uint32_t lo = uint32_t(std::stoul(item.substr(0, dash)));
                uint32_t hi = dash == std::string::npos ? lo : uint32_t(std::stoul(item.substr(dash + 1)));
                for (uint32_t c = lo; c <= hi && c < possible; ++c) {
                    cpus.push_back(c);
                }
            } catch (const std::exception&) {
                cpus.clear();
                break;
            }
            if (comma == std::string::npos) {
                break;
            }
            pos = comma + 1;
        }
    }
    if (cpus.empty()) {
        for (uint32_t c = 0; c < possible; ++c) {
            cpus.push_back(c);
        }
    }
    return cpus;
}

failure refused(int err, const std::string& what) {
    auto kind = (err == EPERM || err == EACCES) ? failure_kind::permission : failure_kind::unsupported;
    return failure(kind, err, what, "--tap needs BPF ring buffers and multi-buffer XDP (Linux 5.18 or later) and CAP_BPF");
}

// Sets what every tap program takes before load (both skeletons have the
// same rodata, .bss and ring map): the snaplen, the rings and when lazy
// wake-ups come (every MiB of records, a few thousand packets, or a
// quarter of a smaller ring).
template <class Skel>
void configure(Skel* skel, const tap_rings& rings, uint32_t snaplen) {
    skel->rodata->snaplen = snaplen;
    skel->rodata->ring_bytes = rings.bytes_per_cpu();
    skel->rodata->wake_bytes = std::min<uint64_t>(rings.bytes_per_cpu() / 4, uint64_t(1) << 20);
    if (int err = bpf_map__reuse_fd(skel->maps.xcap_tap_rings, rings.array_fd())) {
        throw refused(-err, "cannot hand the ring buffers to the tap BPF program");
    }
}

uint64_t ring_full_of(int map_fd, uint32_t cpu) {
    const auto per_cpu = per_cpu_values<xcap_ring_counters>(map_fd, XCAP_MAX_QUEUES);
    return cpu < per_cpu.size() ? per_cpu[cpu].ring_full : 0;
}

}  // namespace

tap_rings::tap_rings(uint64_t bytes_per_cpu) {
    const uint64_t page = uint64_t(sysconf(_SC_PAGESIZE));
    _bytes = page;
    while (_bytes < bytes_per_cpu) {
        _bytes *= 2;
    }
    int possible = libbpf_num_possible_cpus();
    if (possible <= 0) {
        throw failure(failure_kind::runtime, -possible, "cannot count this machine's CPUs");
    }
    for (uint32_t cpu : online_cpus(uint32_t(possible))) {
        int fd = bpf_map_create(BPF_MAP_TYPE_RINGBUF, "xcap_tap_ring", 0, 0, uint32_t(_bytes), nullptr);
        if (fd < 0) {
            int err = errno;
            if (err == ENOMEM) {
                throw failure(failure_kind::runtime, err,
                              "cannot allocate a " + std::to_string(_bytes >> 10) + " KiB ring buffer for CPU " +
                                  std::to_string(cpu),
                              "choose a smaller --ring-size");
            }
            throw refused(err, "the kernel refused a BPF ring buffer");
        }
        _rings.push_back({cpu, unique_fd(fd)});
    }
    LIBBPF_OPTS(bpf_map_create_opts, opts, .inner_map_fd = uint32_t(_rings.front().fd.get()));
    int fd = bpf_map_create(BPF_MAP_TYPE_ARRAY_OF_MAPS, "xcap_tap_rings", sizeof(uint32_t), sizeof(uint32_t),
                            uint32_t(possible), &opts);
    if (fd < 0) {
        throw refused(errno, "the kernel refused an array of BPF ring buffers");
    }
    _array.reset(fd);
    for (const auto& r : _rings) {
        uint32_t key = r.cpu;
        uint32_t value = uint32_t(r.fd.get());
        if (bpf_map_update_elem(fd, &key, &value, 0) != 0) {
            throw refused(errno, "cannot register the ring buffer of CPU " + std::to_string(r.cpu));
        }
    }
}

void tap_program::skeleton_deleter::operator()(xcap_tap_bpf* s) const { xcap_tap_bpf__destroy(s); }

tap_program::tap_program(const tap_rings& rings, uint32_t snaplen, nic_link nic) {
    _skel.reset(xcap_tap_bpf__open());
    if (!_skel) {
        throw failure(failure_kind::runtime, errno, "cannot open the tap BPF program");
    }
    configure(_skel.get(), rings, snaplen);
    if (nic.state_fd >= 0) {
        _skel->rodata->xcap_untag_after = 1;
        _skel->rodata->xcap_nic_time = nic.time;
        if (int err = bpf_map__reuse_fd(_skel->maps.xcap_nic_state, nic.state_fd)) {
            throw refused(-err, "cannot hand the state map to the tap BPF program");
        }
    }
    if (int err = xcap_tap_bpf__load(_skel.get())) {
        throw refused(-err, "the kernel refused to load the tap BPF program");
    }
}

tap_program::~tap_program() { _attachment.detach(); }

int tap_program::prog_fd() const { return bpf_program__fd(_skel->progs.xcap_tap); }

std::vector<xcap_ring_counters> tap_program::counters(uint32_t queues) const {
    std::vector<xcap_ring_counters> out(queues);
    for (uint32_t q = 0; q < queues && q < XCAP_MAX_QUEUES; ++q) {
        out[q] = per_cpu_sum<xcap_ring_counters>(bpf_map__fd(_skel->maps.xcap_tap_counters), q);
    }
    return out;
}

uint64_t tap_program::ring_full_on_cpu(uint32_t cpu) const {
    return ring_full_of(bpf_map__fd(_skel->maps.xcap_tap_counters), cpu);
}

void tap_program::set_lazy_wake(bool lazy) {
    // .bss is mapped into this process: the program sees the store at once.
    __atomic_store_n(&_skel->bss->xcap_lazy_wake, lazy ? 1u : 0u, __ATOMIC_SEQ_CST);
}

void tap_egress::skeleton_deleter::operator()(xcap_tap_out_bpf* s) const { xcap_tap_out_bpf__destroy(s); }

tap_egress::tap_egress(const tap_rings& rings, uint32_t snaplen, const interpreter_program* filter) {
    _skel.reset(xcap_tap_out_bpf__open());
    if (!_skel) {
        throw failure(failure_kind::runtime, errno, "cannot open the tap's egress BPF program");
    }
    configure(_skel.get(), rings, snaplen);
    if (filter) {
        _skel->rodata->xcap_cbpf_len = uint32_t(filter->insns.size());
        _skel->rodata->xcap_cbpf_steps = filter->steps;
    }
    if (int err = xcap_tap_out_bpf__load(_skel.get())) {
        throw refused(-err, "the kernel refused to load the tap's egress BPF program");
    }
    if (filter) {
        write_interpreter_program(bpf_map__fd(_skel->maps.xcap_cbpf_prog), *filter);
    }
}

tap_egress::~tap_egress() = default;

int tap_egress::attach(uint32_t ifindex) {
    // A bpf_link (not the older netlink clsact filter), so it goes away with
    // the process; libbpf 1.1 has no bpf_program__attach_tcx, the syscall is
    // the same.
    int fd = bpf_link_create(bpf_program__fd(_skel->progs.xcap_tap_out), int(ifindex), bpf_attach_type(BPF_TCX_EGRESS),
                             nullptr);
    if (fd < 0) {
        return errno;
    }
    _link.reset(fd);
    return 0;
}

xcap_ring_counters tap_egress::counters() const { return per_cpu_sum<xcap_ring_counters>(bpf_map__fd(_skel->maps.xcap_tap_counters), 0); }

uint64_t tap_egress::ring_full_on_cpu(uint32_t cpu) const {
    return ring_full_of(bpf_map__fd(_skel->maps.xcap_tap_counters), cpu);
}

void tap_egress::set_lazy_wake(bool lazy) {
    __atomic_store_n(&_skel->bss->xcap_lazy_wake, lazy ? 1u : 0u, __ATOMIC_SEQ_CST);
}

}  // namespace xcap
