#pragma once

#include <cstdint>

#include "bpf/xcap_abi.h"
#include "engine/xdp_attach.h"

struct xcap_rx_bpf;

namespace xcap {

// The capture program (bpf/xcap_rx.bpf.c): owns the loaded skeleton, the
// mapping of its per-queue counters and, while attached, the bpf_link.
// Not thread-safe; counters() and the issued counters may be read from any
// thread while it lives.
class rx_program {
public:
    rx_program();  // opens, loads and maps; throws failure
    ~rx_program();
    rx_program(const rx_program&) = delete;
    rx_program& operator=(const rx_program&) = delete;

    int prog_fd() const;
    int xsks_map_fd() const;
    uint32_t id() const { return program_id(prog_fd()); }

    // Attaches the capture program, or `entry_fd` (a filter that tail-calls
    // it) in its place.
    void attach(const device_info& dev, xdp_mode mode, int entry_fd = -1) {
        _attachment.attach(entry_fd >= 0 ? entry_fd : prog_fd(), dev, mode);
    }
    void detach() { _attachment.detach(); }
    bool attached() const { return _attachment.attached(); }
    xdp_mode mode() const { return _attachment.mode(); }

    // Sum of the per-CPU counters.
    xcap_rx_counters counters() const;

    // The program's count of packets redirected to `queue`, mapped into this
    // process (read with an acquire load; see capture/writer.h).
    const uint64_t* issued_counter(uint32_t queue) const {
        return reinterpret_cast<const uint64_t*>(&_seq[queue].issued);
    }

private:
    xcap_rx_bpf* _skel = nullptr;
    const xcap_queue_seq* _seq = nullptr;
    size_t _seq_size = 0;
    xdp_attachment _attachment;  // declared last: detached first
};

}  // namespace xcap
