#include "sources/tap_program.h"

#include <algorithm>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <string>

#include "common/error.h"
#include "xcap_tap.skel.h"

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

tap_program::tap_program(const tap_rings& rings, uint32_t snaplen) {
    _skel.reset(xcap_tap_bpf__open());
    if (!_skel) {
        throw failure(failure_kind::runtime, errno, "cannot open the tap BPF program");
    }
    _skel->rodata->snaplen = snaplen;
    _skel->rodata->ring_bytes = rings.bytes_per_cpu();
    // Lazy wake-ups come every MiB of records (a few thousand packets), or
    // a quarter of a smaller ring.
    _skel->rodata->wake_bytes = std::min<uint64_t>(rings.bytes_per_cpu() / 4, uint64_t(1) << 20);
    if (int err = bpf_map__reuse_fd(_skel->maps.xcap_tap_rings, rings.array_fd())) {
        throw refused(-err, "cannot hand the ring buffers to the tap BPF program");
    }
    if (int err = xcap_tap_bpf__load(_skel.get())) {
        throw refused(-err, "the kernel refused to load the tap BPF program");
    }
}

tap_program::~tap_program() { _attachment.detach(); }

int tap_program::prog_fd() const { return bpf_program__fd(_skel->progs.xcap_tap); }

std::vector<xcap_ring_counters> tap_program::counters(uint32_t queues) const {
    std::vector<xcap_ring_counters> out(queues);
    int ncpu = libbpf_num_possible_cpus();
    if (ncpu <= 0) {
        return out;
    }
    std::vector<xcap_ring_counters> per_cpu(static_cast<size_t>(ncpu));
    const int fd = bpf_map__fd(_skel->maps.xcap_tap_counters);
    for (uint32_t q = 0; q < queues && q < XCAP_MAX_QUEUES; ++q) {
        if (bpf_map_lookup_elem(fd, &q, per_cpu.data()) != 0) {
            continue;
        }
        for (const auto& c : per_cpu) {
            out[q].seen += c.seen;
            out[q].recorded += c.recorded;
            out[q].ring_full += c.ring_full;
            out[q].filtered += c.filtered;
        }
    }
    return out;
}

uint64_t tap_program::ring_full_on_cpu(uint32_t cpu) const {
    int ncpu = libbpf_num_possible_cpus();
    if (ncpu <= 0 || cpu >= uint32_t(ncpu)) {
        return 0;
    }
    std::vector<xcap_ring_counters> per_cpu(static_cast<size_t>(ncpu));
    uint32_t key = XCAP_MAX_QUEUES;
    if (bpf_map_lookup_elem(bpf_map__fd(_skel->maps.xcap_tap_counters), &key, per_cpu.data()) != 0) {
        return 0;
    }
    return per_cpu[cpu].ring_full;
}

void tap_program::set_lazy_wake(bool lazy) {
    // .bss is mapped into this process: the program sees the store at once.
    __atomic_store_n(&_skel->bss->xcap_lazy_wake, lazy ? 1u : 0u, __ATOMIC_SEQ_CST);
}

}  // namespace xcap
