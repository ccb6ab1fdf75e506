#pragma once

#include <cstdint>
#include <memory>

#include "bpf/xcap_abi.h"
#include "sources/nic_program.h"
#include "sources/source.h"
#include "common/owned.h"
#include "engine/xdp_attach.h"
#include "sources/attachable_program.h"

struct xcap_rx_bpf;
struct ring_buffer;

namespace xcap {

// The capture program (bpf/xcap_rx.bpf.c): owns the loaded skeleton, the
// mapping of its per-queue counters and, while attached, the bpf_link. It is
// the doorbell of its queues' sources (the program's ring of wake-ups).
// Not thread-safe; counters() and the issued counters may be read from any
// thread while it lives; the doorbell belongs to the capture thread.
class rx_program final : public doorbell, public attachable_program {
public:
    // Opens, loads and maps; throws failure. `frags`: load with
    // BPF_F_XDP_HAS_FRAGS (SEC("xdp.frags")), asked for when the sockets can
    // take multi-buffer packets; a kernel that refuses the flag gets the
    // program without it (frags() says which). `nic`: the device-bound entry
    // program in front (sources/nic_program.h), whose VLAN tag the program
    // takes out of a frame it passes to the stack and whose NIC time stamp
    // goes into the metadata.
    explicit rx_program(bool frags = true, nic_link nic = {});
    ~rx_program() override;
    rx_program(const rx_program&) = delete;
    rx_program& operator=(const rx_program&) = delete;

    int prog_fd() const override;
    // Whether the program was loaded with BPF_F_XDP_HAS_FRAGS: a filter that
    // tail-calls it must be loaded the same way (xdp_filter_options::frags).
    bool frags() const { return _frags; }
    // Whether the program puts each packet's xcap_meta at the start of the
    // frame, the packet after it (where the kernel refuses the metadata
    // area: filter/filter.h, xdp_metadata_allowed): a socket's frame then
    // holds sizeof(xcap_meta) bytes less of the packet, and its source must
    // take them off (xsk_source::set_meta_in_frame).
    bool meta_in_frame() const;
    // Frames longer than this are dropped and counted as too_large; 0 = no
    // limit. Takes effect at once, attached or not.
    void set_max_len(uint32_t bytes);
    int xsks_map_fd() const;

    // Sum of the per-CPU counters.
    xcap_rx_counters counters() const;

    // The program's count of packets redirected to `queue`, mapped into this
    // process (read with an acquire load; see writer/writer.h).
    const uint64_t* issued_counter(uint32_t queue) const { return reinterpret_cast<const uint64_t*>(&_seq[queue].issued); }
    // The queue's doorbell target (xcap_queue_seq::wake_at), mapped.
    uint64_t* wake_at(uint32_t queue) const { return reinterpret_cast<uint64_t*>(&_seq[queue].wake_at); }

    // doorbell
    int fd() const override;
    void clear() override;

private:
    struct skeleton_deleter {
        void operator()(xcap_rx_bpf* s) const;
    };
    struct ring_deleter {
        void operator()(ring_buffer* r) const;
    };

    // Destroyed in reverse, after the destructor detached: the doorbell's
    // ring, the counters' mapping, then the skeleton.
    std::unique_ptr<xcap_rx_bpf, skeleton_deleter> _skel;
    bool _frags = false;
    unique_mapping _seq_map;
    xcap_queue_seq* _seq = nullptr;  // in _seq_map
    std::unique_ptr<ring_buffer, ring_deleter> _bell;
};

}  // namespace xcap
