#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "bpf/xcap_abi.h"
#include "common/fd.h"
#include "engine/xdp_attach.h"
#include "sources/attachable_program.h"
#include "sources/nic_program.h"

struct xcap_tap_bpf;
struct xcap_tap_out_bpf;

namespace xcap {

struct interpreter_program;

// The rings of a tap capture: one BPF ring buffer (BPF_MAP_TYPE_RINGBUF) per
// online CPU, in an ARRAY_OF_MAPS indexed by CPU that every tap program
// instance (one per interface) uses. Owns the maps. Setup only; the fds may
// be read from any thread while it lives.
class tap_rings {
public:
    // `bytes_per_cpu` is rounded up to a power of two of at least a page.
    // Throws failure.
    explicit tap_rings(uint64_t bytes_per_cpu);

    struct ring {
        uint32_t cpu;
        unique_fd fd;
    };
    const std::vector<ring>& rings() const { return _rings; }
    int array_fd() const { return _array.get(); }
    uint64_t bytes_per_cpu() const { return _bytes; }

private:
    uint64_t _bytes;
    std::vector<ring> _rings;
    unique_fd _array;
};

// The tap program (bpf/xcap_tap.bpf.c) for one interface: owns the loaded
// skeleton and, while attached, the bpf_link. Loaded with
// BPF_F_XDP_HAS_FRAGS, so a filter chained in front must be too. Not
// thread-safe; counters() may be called from any thread while it lives.
class tap_program final : public attachable_program {
public:
    // `nic`: the device-bound entry program in front (sources/nic_program.h),
    // whose VLAN tag the program copies and then takes out of the frame, and
    // whose NIC time stamp goes into the record. Throws failure.
    tap_program(const tap_rings& rings, uint32_t snaplen, nic_link nic = {});
    ~tap_program() override;
    tap_program(const tap_program&) = delete;
    tap_program& operator=(const tap_program&) = delete;

    int prog_fd() const override;

    // The program's counters for each of queues 0..queues-1, summed over
    // CPUs (one syscall per queue); the last slot also holds the queues
    // beyond XCAP_MAX_QUEUES. A failed read gives zeros.
    std::vector<xcap_ring_counters> counters(uint32_t queues) const;
    // Packets the ring of `cpu` had no room for, over every queue.
    uint64_t ring_full_on_cpu(uint32_t cpu) const;
    // Lazy wake-ups (see bpf/xcap_tap.bpf.c): while on, records wake the
    // reader only every so many bytes. Takes effect at once.
    void set_lazy_wake(bool lazy);

private:
    struct skeleton_deleter {
        void operator()(xcap_tap_bpf* s) const;
    };
    std::unique_ptr<xcap_tap_bpf, skeleton_deleter> _skel;  // after the destructor detached
};

// The tap's egress program (bpf/xcap_tap_out.bpf.c) for one interface: a tc
// program on the interface's egress through tcx, copying what the host
// sends into the same rings, marked outbound. Owns the skeleton and, while
// attached, the tcx bpf_link (the kernel detaches it when the last fd
// closes: at exit, kill -9 included). Not thread-safe; counters() may be
// called from any thread while it lives.
class tap_egress {
public:
    // `filter`: the classic program the interpreter runs (null: every
    // packet). Throws failure.
    tap_egress(const tap_rings& rings, uint32_t snaplen, const interpreter_program* filter);
    ~tap_egress();
    tap_egress(const tap_egress&) = delete;
    tap_egress& operator=(const tap_egress&) = delete;

    // Attaches to the egress of `ifindex` through tcx; returns the errno
    // when the kernel refuses (no tcx before Linux 6.6), 0 on success.
    int attach(uint32_t ifindex);
    void detach() { _link.reset(); }
    bool attached() const { return _link.valid(); }

    xcap_ring_counters counters() const;
    uint64_t ring_full_on_cpu(uint32_t cpu) const;
    void set_lazy_wake(bool lazy);

private:
    struct skeleton_deleter {
        void operator()(xcap_tap_out_bpf* s) const;
    };
    std::unique_ptr<xcap_tap_out_bpf, skeleton_deleter> _skel;
    unique_fd _link;  // declared last: detached first
};

}  // namespace xcap
