#pragma once

#include <linux/if_xdp.h>
#include <xdp/xsk.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "engine/packet_memory.h"

// From linux/if_xdp.h of 6.6 (Debian 12's headers are older).
#ifndef XDP_USE_SG
#define XDP_USE_SG (1 << 4)
#endif
#ifndef XDP_PKT_CONTD
#define XDP_PKT_CONTD (1 << 0)
#endif

namespace xcap {

// The headroom the kernel keeps at the start of every RX frame of a UMEM
// (XDP_PACKET_HEADROOM; the metadata goes there): a frame of `frame_size`
// holds at most frame_size - this many packet bytes.
inline constexpr uint32_t xsk_rx_headroom = 256;

// Whether this kernel's AF_XDP takes XDP_USE_SG (multi-buffer packets as
// several descriptors, Linux 6.6+). Asked once, without side effects: a bind
// to no interface fails with ENODEV where the flag is known, EINVAL where not.
// XCAP_NO_MULTIBUFFER=1 in the environment says no (to test that path).
bool xsk_multibuffer_supported();

enum class bind_mode { automatic, zerocopy, copy };  // to_string() names them in this order

const char* to_string(bind_mode mode);

enum class xsk_direction { rx, tx };

struct xsk_config {
    uint32_t frame_size = 4096;    // a packet longer than a frame takes several (multi_buffer)
    uint32_t frame_count = 16384;  // power of two; the rings of the direction get this many slots
    xsk_direction direction = xsk_direction::rx;
    // Bind with XDP_USE_SG: a packet may span several frames, its descriptors
    // but the last carrying XDP_PKT_CONTD. Asked only where the kernel takes
    // it; a zero-copy driver without multi-buffer support gets a socket
    // without it (multi_buffer() says), except in automatic mode when
    // `prefer_multi_buffer`: then copy mode with it comes first.
    bool multi_buffer = false;
    bool prefer_multi_buffer = false;
};

// One queue's AF_XDP socket with a UMEM of its own, for RX or for TX.
//
// Ownership: owns the UMEM memory (an anonymous mapping), the libxdp UMEM
// and the socket; destroys them socket → UMEM → memory.
// Frame accounting, RX: the fill and RX rings have as many slots as there are
// frames, every frame starts on the fill ring, so the fill ring can always
// take back every returned frame and the RX ring cannot overflow before the
// UMEM runs dry. TX: the TX and completion rings have as many slots as there
// are frames, the frames start with the caller, and the completion ring
// cannot overflow.
// Threading: after construction, the rings belong to one thread (the
// worker); statistics() may be called from any thread.
// Packets a socket dropped, each counted once. In copy mode the kernel counts
// a packet dropped for want of a fill-ring frame in both rx_dropped and
// rx_fill_ring_empty_descs; in zero-copy mode the driver drops it and only
// rx_fill_ring_empty_descs counts it.
inline uint64_t xsk_drops(const xdp_statistics& st, bool zero_copy) {
    return st.rx_dropped + st.rx_ring_full + st.rx_invalid_descs + (zero_copy ? st.rx_fill_ring_empty_descs : 0);
}

class xsk_queue {
public:
    // Creates the UMEM, binds a socket to (ifname, queue) and puts every frame
    // on the fill ring. `automatic` tries zero-copy first, then copy mode.
    // Throws failure.
    xsk_queue(const std::string& ifname, uint32_t queue, const xsk_config& cfg, bind_mode mode);
    ~xsk_queue();
    xsk_queue(const xsk_queue&) = delete;
    xsk_queue& operator=(const xsk_queue&) = delete;

    uint32_t queue() const { return _queue; }
    int fd() const;
    bool zero_copy() const { return _zero_copy; }
    bool multi_buffer() const { return _multi_buffer; }
    const xsk_config& config() const { return _cfg; }

    xsk_ring_cons& rx() { return _rx; }
    xsk_ring_prod& fill() { return _fill; }
    xsk_ring_prod& tx() { return _tx; }
    xsk_ring_cons& comp() { return _comp; }
    uint8_t* area() const { return _area; }
    uint64_t frame_mask() const { return ~uint64_t(_cfg.frame_size - 1); }

    // The six XDP_STATISTICS counters of the socket, or nullopt when the
    // kernel refuses to say (the caller keeps its previous reading: counters
    // only grow, and zeros would make differences wrap).
    std::optional<xdp_statistics> statistics() const;

private:
    void create(const std::string& ifname, uint16_t bind_flags);
    void destroy_socket();

    uint32_t _queue;
    xsk_config _cfg;
    std::unique_ptr<packet_memory> _memory;
    uint8_t* _area = nullptr;
    size_t _area_size = 0;
    xsk_umem* _umem = nullptr;
    xsk_socket* _xsk = nullptr;
    xsk_ring_prod _fill{};
    xsk_ring_cons _comp{};
    xsk_ring_cons _rx{};
    xsk_ring_prod _tx{};
    bool _zero_copy = false;
    bool _multi_buffer = false;
};

}  // namespace xcap
