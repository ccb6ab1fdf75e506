#pragma once

#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <boost/lockfree/spsc_queue.hpp>
#include <cstdint>

#include "common/fd.h"

namespace xcap {

// A packet handed from an RX worker to the writer: where it sits in the
// queue's UMEM and how long it is. The packet itself is not copied; the
// writer reads it in place and hands the frame back through `returns`.
struct rx_desc {
    uint64_t addr;
    uint32_t len;
    uint32_t drops_before;  // packets this queue dropped since its previous packet (saturating)
};

// Wakes the writer when it sleeps for want of packets, so an idle capture
// costs no wake-ups. The writer sets `asleep` (seq_cst), looks at every
// handoff ring once more, then blocks on the eventfd; a worker that pushed
// reads `asleep` (seq_cst) after its push and rings. Either the writer sees
// the push or the worker sees the flag: no packet waits for a timeout.
struct doorbell {
    std::atomic<bool> asleep{false};
    unique_fd efd;

    doorbell() : efd(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}
    void ring() {
        asleep.store(false, std::memory_order_relaxed);
        uint64_t one = 1;
        [[maybe_unused]] ssize_t n = write(efd.get(), &one, sizeof(one));
    }
    void ring_if_asleep() {
        if (asleep.load(std::memory_order_seq_cst)) {
            ring();
        }
    }
};

// What the writer may read of the kernel's side of one queue: the RX ring's
// indices and the XDP program's count of packets it redirected there
// (xcap_queue_seq.issued). Read-only here; all null in tests that model none.
struct kernel_view {
    const uint32_t* rx_producer = nullptr;
    const uint32_t* rx_consumer = nullptr;
    const uint64_t* issued = nullptr;
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
    queue_channel(uint32_t queue_id, uint8_t* umem_area, uint64_t frame_mask_, size_t frames,
                  kernel_view kernel_ = {}, doorbell* writer_bell_ = nullptr)
        : handoff(frames),
          returns(frames),
          queue(queue_id),
          area(umem_area),
          frame_mask(frame_mask_),
          kernel(kernel_),
          writer_bell(writer_bell_) {}

    // True when the socket's RX ring holds nothing the worker has not taken.
    // The worker pushes descriptors to `handoff` before it releases them from
    // the RX ring, so "RX ring empty, then handoff empty" (in that order) means
    // every packet the kernel had published is with the writer. Without ring
    // pointers (tests) the ring counts as empty.
    bool rx_ring_empty() const {
        if (!kernel.rx_producer) {
            return true;
        }
        return __atomic_load_n(kernel.rx_producer, __ATOMIC_ACQUIRE) ==
               __atomic_load_n(kernel.rx_consumer, __ATOMIC_ACQUIRE);
    }

    // Packets the XDP program has redirected to this queue so far; 0 without
    // a program (tests).
    uint64_t issued() const { return kernel.issued ? __atomic_load_n(kernel.issued, __ATOMIC_ACQUIRE) : 0; }

    boost::lockfree::spsc_queue<rx_desc> handoff;
    boost::lockfree::spsc_queue<uint64_t> returns;
    const uint32_t queue;
    uint8_t* const area;  // the writer reads packets here and clears their metadata's magic
    const uint64_t frame_mask;
    const kernel_view kernel;
    doorbell* const writer_bell;  // null in tests that drive the writer by hand

    // Written by the worker.
    alignas(64) std::atomic<uint64_t> received{0};
    std::atomic<uint64_t> received_bytes{0};
    std::atomic<uint64_t> handoff_full{0};
    // Packets the XDP program redirected here that will never reach the
    // handoff ring: the socket's drops as last sampled, plus handoff_full.
    // Written by the worker; the writer's merge reads it (see writer.h).
    std::atomic<uint64_t> lost{0};
    std::atomic<bool> worker_done{false};
};

}  // namespace xcap
