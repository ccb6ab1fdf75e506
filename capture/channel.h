#pragma once

#include <atomic>
#include <boost/lockfree/spsc_queue.hpp>
#include <cstdint>

namespace xcap {

// A packet handed from an RX worker to the writer: where it sits in the
// queue's UMEM and how long it is. The packet itself is not copied; the
// writer reads it in place and hands the frame back through `returns`.
struct rx_desc {
    uint64_t addr;
    uint32_t len;
    uint32_t reserved;
};

// Everything one queue's RX worker and the writer share.
//
// handoff: worker → writer, descriptors of received packets.
// returns: writer → worker, frame addresses to put back on the fill ring.
// Both are single-producer/single-consumer (Boost.Lockfree, acquire/release
// on the indices) and hold as many entries as the queue has frames, so they
// cannot overflow: every frame is in exactly one place at a time.
// Counters are written by one thread with relaxed stores and read by others
// for statistics only.
struct queue_channel {
    queue_channel(uint32_t queue_id, const uint8_t* umem_area, uint64_t frame_mask_, size_t frames)
        : handoff(frames), returns(frames), queue(queue_id), area(umem_area), frame_mask(frame_mask_) {}

    boost::lockfree::spsc_queue<rx_desc> handoff;
    boost::lockfree::spsc_queue<uint64_t> returns;
    const uint32_t queue;
    const uint8_t* const area;
    const uint64_t frame_mask;

    // Written by the worker.
    alignas(64) std::atomic<uint64_t> received{0};
    std::atomic<uint64_t> received_bytes{0};
    std::atomic<uint64_t> handoff_full{0};
    std::atomic<bool> worker_done{false};
};

}  // namespace xcap
