#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "bpf/xcap_abi.h"

struct xcap_rx_bpf;
struct bpf_link;

namespace xcap {

enum class xdp_mode { automatic, native, generic };

const char* to_string(xdp_mode mode);

// Routes libbpf's and libxdp's own log lines through xcap: silent unless
// `verbose`, and then prefixed "xcap: libbpf:" so users can tell them apart.
void route_library_logs(bool verbose);

// What is attached to an interface right now (any owner).
struct attached_program {
    uint32_t id = 0;
    std::string name;
    std::string mode;  // "native", "generic", "offload" or "multi"
    bool through_link = false;
};

// The XDP program attached to `ifindex` in any mode, or nullopt.
std::optional<attached_program> query_attached(unsigned ifindex);

// Removes whatever XDP program is attached to the interface (for --force).
// Uses libxdp so that a libxdp dispatcher is taken down with its pins.
// Throws failure(xdp_busy) when it cannot (e.g. another process's bpf_link).
void remove_attached(unsigned ifindex, const std::string& ifname);

// The capture program (bpf/xcap_rx.bpf.c): owns the loaded skeleton and, while
// attached, the bpf_link that holds the attachment. The kernel removes a
// bpf_link attachment when its last fd closes, so the program cannot outlive
// the process, not even after SIGKILL. Not thread-safe; counters() may be
// called from any thread while attached.
class rx_program {
public:
    rx_program();  // opens and loads; throws failure
    ~rx_program();
    rx_program(const rx_program&) = delete;
    rx_program& operator=(const rx_program&) = delete;

    int xsks_map_fd() const;
    uint32_t id() const;

    // Attaches to the interface: native first when `mode` is automatic, then
    // generic. Throws failure (xdp_busy when something else is attached,
    // unsupported when the requested mode is refused).
    void attach(unsigned ifindex, const std::string& ifname, xdp_mode mode);
    // Removes the attachment; idempotent.
    void detach();
    bool attached() const { return _link_fd >= 0; }
    // The mode the attachment got (native or generic); automatic when not attached.
    xdp_mode mode() const { return _mode; }

    // Sum of the per-CPU counters.
    xcap_rx_counters counters() const;

    // The program's count of packets redirected to `queue`, mapped into this
    // process (read with an acquire load; see capture/writer.h). Valid while
    // this object lives.
    const uint64_t* issued_counter(uint32_t queue) const {
        return reinterpret_cast<const uint64_t*>(&_seq[queue].issued);
    }

private:
    xcap_rx_bpf* _skel = nullptr;
    const xcap_queue_seq* _seq = nullptr;
    size_t _seq_size = 0;
    int _link_fd = -1;
    xdp_mode _mode = xdp_mode::automatic;
};

}  // namespace xcap
