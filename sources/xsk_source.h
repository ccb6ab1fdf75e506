#pragma once

#include <linux/if_xdp.h>

#include <cstdint>
#include <memory>

#include "bpf/xcap_abi.h"
#include "sources/source.h"
#include "engine/xsk.h"

namespace xcap {

// One RX queue's AF_XDP socket as a packet source: records are read in
// place in the UMEM, and a released frame goes straight back on the fill
// ring, so a frame is never held longer than the writer holds its packet.
//
// Quiet rule: the XDP program counts each packet it redirects here
// (`issued`) before it stamps it. If, after the caller read the clock, the
// RX ring has nothing unpeeked and every issued packet was peeked or is known
// lost (the socket's drops, as last sampled), then every packet still to come
// is stamped after that clock reading.
//
// Multi-buffer (a socket bound with XDP_USE_SG): a packet longer than a frame
// arrives as several descriptors, all but the last flagged XDP_PKT_CONTD.
// Such a packet is handed on as one record whose bytes stay in place, in
// pieces (record_ref::segs, one per descriptor, in an array of the source
// with a slot per RX ring entry), which the writer gathers straight into
// its output: no copy on the way. Its frames go back to the fill ring
// together when it is released. The flag is looked at once per batch, and
// only a batch that has it takes the other path. A record's cookie then
// carries its descriptor count.
//
// Threading: one thread (the writer) calls everything except counters().
class xsk_source final : public packet_source {
public:
    // `issued` is the program's per-queue counter (null: no program, tests).
    xsk_source(xsk_queue& xsk, const uint64_t* issued);

    // Batched wake-ups: `wake_at` is the queue's slot beside `issued`, which
    // the program compares each count with, ringing `bell` on a match.
    void set_doorbell(uint64_t* wake_at, doorbell* bell) {
        _wake_at = wake_at;
        _bell = bell;
    }

    // The program puts each packet's metadata at the start of its frame
    // (rx_program::meta_in_frame): the record starts after it.
    void set_meta_in_frame(bool on) { _prefix = on ? uint32_t(sizeof(xcap_meta)) : 0; }

    // Rings in plain memory, no socket (tests and benchmarks play the kernel).
    struct rings {
        xsk_ring_cons* rx;
        xsk_ring_prod* fill;
        uint8_t* area;
        uint64_t frame_mask;
        uint32_t queue;
        const uint64_t* drops = nullptr;  // the "socket's" drop count
    };

    xsk_source(const rings& r, const uint64_t* issued);

    size_t peek(record_ref* out, size_t max) override;
    void release(const record_ref* records, size_t n) override;
    quiet_state quiet() override;
    size_t backlog() const override;
    int wait_fd() const override { return _xsk ? _xsk->fd() : -1; }
    arm_state arm(uint32_t batch) override;
    doorbell* bell() const override { return _wake_at && _issued ? _bell : nullptr; }
    void sample_drops() override;
    uint32_t queue() const override { return _queue; }

private:
    size_t peek_multi(record_ref* out, size_t max, uint32_t idx, uint32_t n);
    void release_multi(const record_ref* records, size_t n);
    void fill_record(record_ref& r, const xdp_desc* d, uint8_t* pkt);

    xsk_queue* _xsk;  // null over plain rings
    xsk_ring_cons& _rx;
    xsk_ring_prod& _fill;
    uint8_t* const _area;
    const uint64_t _frame_mask;
    const uint32_t _queue;
    const uint64_t* _issued;
    uint32_t _prefix = 0;  // bytes of metadata at the start of each frame (0: in front of it)
    uint64_t* _wake_at = nullptr;
    doorbell* _bell = nullptr;
    const uint64_t* _plain_drops = nullptr;
    uint64_t _peeked = 0;         // descriptors peeked, all time
    uint64_t _drops_seen = 0;     // socket drops as last sampled
    int64_t _last_sample_ns = 0;
    std::unique_ptr<segment[]> _segs;  // pieces of multi-buffer records, a slot per RX ring entry
    uint32_t _segs_size = 0;
    uint32_t _segs_used = 0;
    uint64_t _multi_outstanding = 0;  // records of several descriptors peeked, not released
};

}  // namespace xcap
