#pragma once

#include <unistd.h>
#include <xdp/xsk.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "bpf/xcap_abi.h"

namespace xcap::test {

// One AF_XDP queue with the kernel played by the test: an RX ring and a fill
// ring laid out in plain memory as the kernel maps them, a UMEM, and the XDP
// program's per-queue count. deliver() does what the kernel and xcap_rx do
// for a packet: take a frame from the fill ring, stamp its metadata, copy
// the bytes, publish it on the RX ring, count it.
class plain_queue {
public:
    static constexpr uint32_t frame_size = 2048;
    static constexpr uint32_t headroom = 256;

    explicit plain_queue(uint32_t frames = 64) : _frames(frames), _area(size_t(frames) * frame_size) {
        _rx_entries.resize(frames);
        _fill_entries.resize(frames);
        wire(rx, _rx_mem, _rx_entries.data(), false);
        wire(fill, _fill_mem, _fill_entries.data(), true);
        // Every frame starts on the fill ring, as xsk_queue puts them.
        uint32_t idx = 0;
        xsk_ring_prod__reserve(&fill, frames, &idx);
        for (uint32_t i = 0; i < frames; ++i) {
            *xsk_ring_prod__fill_addr(&fill, idx + i) = uint64_t(i) * frame_size;
        }
        xsk_ring_prod__submit(&fill, frames);
    }
    plain_queue(const plain_queue&) = delete;
    plain_queue& operator=(const plain_queue&) = delete;

    uint8_t* area() { return _area.data(); }
    uint64_t frame_mask() const { return ~uint64_t(frame_size - 1); }

    // The program counted (and stamped) a packet that is not on the RX ring
    // yet: the next deliver() publishes it.
    void stamp_in_flight() {
        count();
        ++_in_flight;
    }

    // A packet of `len` bytes, all `fill_byte`, stamped `ts` (or unstamped),
    // at the descriptor's address plus the metadata's size if meta_in_frame.
    // Returns false when the fill ring had no frame (a drop, counted).
    bool deliver(uint64_t ts, uint8_t fill_byte, uint32_t len, bool stamped = true) {
        uint64_t n = 0;  // 0: counted before (in flight)
        if (_in_flight) {
            --_in_flight;
        } else {
            n = count();
        }
        doorbell_after_publish bell{*this, n};
        uint32_t cons = _fill_mem.consumer;
        if (cons == __atomic_load_n(&_fill_mem.producer, __ATOMIC_ACQUIRE)) {
            ++drops;
            return false;
        }
        uint64_t frame = _fill_entries[cons & (_frames - 1)];
        __atomic_store_n(&_fill_mem.consumer, cons + 1, __ATOMIC_RELEASE);
        uint64_t addr = frame + headroom;
        const uint32_t prefix = meta_in_frame ? uint32_t(sizeof(xcap_meta)) : 0;
        auto* meta = reinterpret_cast<xcap_meta*>(_area.data() + addr + prefix - sizeof(xcap_meta));
        std::memset(meta, 0, sizeof(*meta));
        meta->rx_ts_ns = ts;
        meta->magic = stamped ? XCAP_META_MAGIC : 0;
        std::memset(_area.data() + addr + prefix, fill_byte, len);
        uint32_t prod = _rx_mem.producer;
        _rx_entries[prod & (_frames - 1)] = xdp_desc{addr, len + prefix, 0};
        __atomic_store_n(&_rx_mem.producer, prod + 1, __ATOMIC_RELEASE);
        return true;
    }

    // A multi-buffer packet as the kernel hands it to a socket bound with
    // XDP_USE_SG: `bytes` spread over frames of at most `per_frame` bytes
    // each (the metadata in the first), every descriptor but the last
    // flagged XDP_PKT_CONTD, all published at once. Returns false (nothing
    // published, counted) when the fill ring has too few frames.
    bool deliver_frags(uint64_t ts, const std::vector<uint8_t>& packet, uint32_t per_frame = frame_size - headroom) {
        doorbell_after_publish bell{*this, count()};
        // What the frames hold: where the metadata travels in the frame, it
        // comes first.
        std::vector<uint8_t> framed;
        if (meta_in_frame) {
            xcap_meta m{};
            m.rx_ts_ns = ts;
            m.magic = XCAP_META_MAGIC;
            framed.resize(sizeof(m) + packet.size());
            std::memcpy(framed.data(), &m, sizeof(m));
            std::memcpy(framed.data() + sizeof(m), packet.data(), packet.size());
        }
        const std::vector<uint8_t>& bytes = meta_in_frame ? framed : packet;
        const uint32_t k = uint32_t((bytes.size() + per_frame - 1) / per_frame);
        uint32_t cons = _fill_mem.consumer;
        if (__atomic_load_n(&_fill_mem.producer, __ATOMIC_ACQUIRE) - cons < k) {
            ++drops;
            return false;
        }
        uint32_t prod = _rx_mem.producer;
        for (uint32_t j = 0; j < k; ++j) {
            uint64_t addr = _fill_entries[(cons + j) & (_frames - 1)] + headroom;
            if (j == 0 && !meta_in_frame) {
                auto* meta = reinterpret_cast<xcap_meta*>(_area.data() + addr - sizeof(xcap_meta));
                std::memset(meta, 0, sizeof(*meta));
                meta->rx_ts_ns = ts;
                meta->magic = XCAP_META_MAGIC;
            }
            uint32_t len = std::min<uint32_t>(per_frame, uint32_t(bytes.size()) - j * per_frame);
            std::memcpy(_area.data() + addr, bytes.data() + size_t(j) * per_frame, len);
            _rx_entries[(prod + j) & (_frames - 1)] = xdp_desc{addr, len, j + 1 < k ? 1u : 0u};  // XDP_PKT_CONTD
        }
        __atomic_store_n(&_fill_mem.consumer, cons + k, __ATOMIC_RELEASE);
        __atomic_store_n(&_rx_mem.producer, prod + k, __ATOMIC_RELEASE);
        return true;
    }

    // Frames on the fill ring (given back by the reader, not yet reused).
    uint32_t fill_level() const { return __atomic_load_n(&_fill_mem.producer, __ATOMIC_ACQUIRE) - _fill_mem.consumer; }
    // Descriptors published and not yet released by the reader.
    uint32_t rx_level() const { return _rx_mem.producer - __atomic_load_n(&_rx_mem.consumer, __ATOMIC_ACQUIRE); }

    // Where the metadata goes: the metadata area in front of the packet, or
    // (as xcap_rx puts it where the kernel refuses that area) the start of
    // the frame, the packet after it and the descriptor's length counting it.
    bool meta_in_frame = false;
    xsk_ring_cons rx{};
    xsk_ring_prod fill{};
    uint64_t issued = 0;  // atomic increments: the writer may read it from another thread
    uint64_t drops = 0;
    // The doorbell (xcap_rx's): the packet whose count equals wake_at writes
    // 1 to bell_fd (an eventfd), once it is published.
    uint64_t wake_at = 0;
    int bell_fd = -1;

private:
    uint64_t count() { return __atomic_add_fetch(&issued, 1, __ATOMIC_SEQ_CST); }

    struct doorbell_after_publish {
        plain_queue& q;
        uint64_t n;
        ~doorbell_after_publish() {
            if (q.bell_fd >= 0 && n != 0 && n == __atomic_load_n(&q.wake_at, __ATOMIC_SEQ_CST)) {
                uint64_t one = 1;
                (void)!write(q.bell_fd, &one, sizeof(one));
            }
        }
    };

    struct ring_mem {
        alignas(64) uint32_t producer = 0;
        alignas(64) uint32_t consumer = 0;
        uint32_t flags = 0;
    };

    template <typename Ring, typename Entry>
    void wire(Ring& r, ring_mem& mem, Entry* entries, bool producer_side) {
        std::memset(&r, 0, sizeof(r));
        r.mask = _frames - 1;
        r.size = _frames;
        r.producer = &mem.producer;
        r.consumer = &mem.consumer;
        r.flags = &mem.flags;
        r.ring = entries;
        r.cached_prod = mem.producer;
        r.cached_cons = mem.consumer + (producer_side ? _frames : 0);
    }

    uint32_t _frames;
    std::vector<uint8_t> _area;
    std::vector<xdp_desc> _rx_entries;
    std::vector<uint64_t> _fill_entries;
    ring_mem _rx_mem;
    ring_mem _fill_mem;
    uint64_t _in_flight = 0;
};

}  // namespace xcap::test
