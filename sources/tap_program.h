#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "bpf/xcap_abi.h"
#include "common/fd.h"
#include "engine/xdp_attach.h"

struct xcap_tap_bpf;

namespace xcap {

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
class tap_program {
public:
    tap_program(const tap_rings& rings, uint32_t snaplen);  // throws failure
    ~tap_program();
    tap_program(const tap_program&) = delete;
    tap_program& operator=(const tap_program&) = delete;

    int prog_fd() const;
    uint32_t id() const { return program_id(prog_fd()); }

    // Attaches the tap program, or `entry_fd` (a filter that tail-calls it)
    // in its place.
    void attach(const device_info& dev, xdp_mode mode, int entry_fd = -1) {
        _attachment.attach(entry_fd >= 0 ? entry_fd : prog_fd(), dev, mode);
    }
    void detach() { _attachment.detach(); }
    xdp_mode mode() const { return _attachment.mode(); }

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
    std::unique_ptr<xcap_tap_bpf, skeleton_deleter> _skel;
    xdp_attachment _attachment;  // declared last: detached first
};

}  // namespace xcap
