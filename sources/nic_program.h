#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "bpf/xcap_abi.h"
#include "common/fd.h"
#include "engine/device.h"

struct xcap_nic_bpf;

namespace xcap {

// What an interface's driver hands an XDP program beside the frame (the
// kernel's xdp-rx-metadata-features, Linux 6.3+; the VLAN tag from 6.8).
struct nic_metadata {
    bool reported = false;   // false: the kernel says nothing (before 6.3, or the query failed)
    bool timestamp = false;  // bpf_xdp_metadata_rx_timestamp
    bool vlan_tag = false;   // bpf_xdp_metadata_rx_vlan_tag
};
nic_metadata query_nic_metadata(uint32_t ifindex);

// What a capture program behind the entry needs from it: the shared state
// map (-1: no entry program), and whether it carries the NIC's time stamps.
struct nic_link {
    int state_fd = -1;
    bool time = false;
};

// The per-CPU state the entry program shares with the programs after it
// (struct xcap_nic_state): created before any of them loads, handed to each
// (bpf_map__reuse_fd). Owns the map.
unique_fd create_nic_state_map();

// The device-bound entry program (bpf/xcap_nic.bpf.c) of one interface, and
// the untag program a filter calls for what it rejects. Owns the skeleton.
// Not thread-safe; counters() may be called from any thread while it lives.
class nic_program {
public:
    struct options {
        bool vlan = true;       // put back the VLAN tags the driver took off
        bool timestamp = false; // read the NIC's receive time stamps
        bool frags = true;      // as the program it tail-calls (BPF_F_XDP_HAS_FRAGS)
        int state_map_fd = -1;  // create_nic_state_map()
    };
    // Loads, bound to `dev`; throws failure (unsupported where the kernel
    // refuses a device-bound program or the kfuncs).
    nic_program(const device_info& dev, const options& opts);
    ~nic_program();
    nic_program(const nic_program&) = delete;
    nic_program& operator=(const nic_program&) = delete;

    // The entry: attach this one.
    int prog_fd() const;
    // The program a rejecting filter tail-calls (xdp_filter_program::set_reject_next).
    int untag_fd() const;
    // What the entry tail-calls: the filter, or the capture program.
    void set_next(int prog_fd);
    xcap_nic_counters counters() const;

private:
    struct skeleton_deleter {
        void operator()(xcap_nic_bpf* s) const;
    };
    std::unique_ptr<xcap_nic_bpf, skeleton_deleter> _skel;
    bool _frags;
};

}  // namespace xcap
