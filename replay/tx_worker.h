#pragma once

#include <atomic>
#include <boost/lockfree/spsc_queue.hpp>
#include <cstdint>
#include <vector>

#include "engine/stop_event.h"
#include "replay/schedule.h"
#include "engine/xsk.h"

namespace xcap {

// A packet ready to send: where it sits in its queue's UMEM, its length
// (longer than a UMEM frame: it spans whole frames from `addr`, sent as one
// descriptor each, all but the last with XDP_PKT_CONTD), and
// when it is due (ns after the replay's start; for a preloaded table, in the
// first loop).
struct tx_item {
    uint64_t addr;
    uint32_t len;
    uint32_t reserved;
    int64_t due_ns;
};

// What all TX workers share. Read-mostly; the budget is taken with atomics.
struct tx_shared {
    int64_t start_ns = 0;                 // CLOCK_MONOTONIC of the schedule's zero
    int64_t loop_period_ns = 0;           // preloaded tables: offset between loops
    uint64_t loops = 1;                   // preloaded tables: 0 = until stopped
    stop_event stop;                      // every wait of every thread ends when it is requested
    std::atomic<int64_t> budget{-1};      // packets left under --limit; -1 = no limit

    void stop_all() { stop.request(); }
    bool stopping() const { return stop.requested(); }
};

// One TX queue's worker state. Exactly one of `table` (preloaded) and `feed`
// (streamed by the reader thread, frames handed back through `free_frames`)
// is set. Counters are written by the worker with relaxed stores.
struct tx_queue_state {
    xsk_queue* xsk = nullptr;
    const std::vector<tx_item>* table = nullptr;
    boost::lockfree::spsc_queue<tx_item>* feed = nullptr;
    boost::lockfree::spsc_queue<uint64_t>* free_frames = nullptr;
    const std::atomic<bool>* feed_done = nullptr;
    uint64_t slot_bytes = 0;  // streamed: a frame goes back when a completion is at a slot's start

    std::atomic<uint64_t> submitted{0};
    std::atomic<uint64_t> completed{0};
    std::atomic<uint64_t> submitted_bytes{0};
    std::atomic<bool> done{false};
    int64_t last_send_ns = 0;  // when the last batch was handed to the kernel (ns after start)
    error_histogram errors;  // owned by the worker until done
};

// The TX loop: takes the packets that are due, up to a batch, puts them on
// the TX ring, kicks the kernel, records each packet's send-time error, and
// reclaims completions. It waits for the next due packet by sleeping until
// shortly before it (a sleep that a stop request ends at once), then spinning. A worker that has fallen behind sends
// what is due in batches of at most `batch` packets, each a single kick, so
// it catches up at the batch rate instead of in one unbounded burst.
void run_tx_worker(tx_queue_state& q, tx_shared& shared);

}  // namespace xcap
