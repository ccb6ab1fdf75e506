#pragma once

#include <atomic>
#include <cstdint>
#include <vector>

#include "capture/channel.h"
#include "pcap/savefile.h"

namespace xcap {

struct writer_config {
    uint64_t count_limit = 0;          // stop writing after this many packets; 0 = no limit
    int64_t realtime_offset_ns = 0;    // added to the monotonic XDP stamps
    int64_t merge_guard_ns = 200'000;   // kernel stamp-to-publish allowance for an idle queue
    int64_t merge_window_ns = 4'000'000; // longest wait for a queue whose worker is behind
    bool flush_when_idle = false;      // for pipes: flush each time the rings run empty
};

// Counters of the writer thread: written with relaxed stores by the writer,
// read by anyone.
struct writer_counters {
    std::atomic<uint64_t> written{0};
    std::atomic<uint64_t> written_bytes{0};   // packet bytes on the wire (len, not caplen)
    std::atomic<uint64_t> snaplen_cut{0};
    std::atomic<uint64_t> write_errors{0};    // packets lost because the output failed
    std::atomic<uint64_t> over_limit{0};      // delivered after -c was reached, not written
    std::atomic<uint64_t> meta_missing{0};    // no XDP timestamp: stamped in user space
};

// The writer: pops descriptors from every queue's channel, merges the queues
// in timestamp order and writes each packet through a pcap_writer, then hands
// the frames back to their workers.
//
// Merge: the packet with the smallest timestamp among the queues' heads is
// written next. When another queue has nothing pending, the head is written
// once that queue is known to be quiet up to the head's time: its RX ring and
// its handoff ring were both empty at least merge_guard_ns after the head was
// stamped. If that queue's worker is behind (packets sit in its RX ring), the
// head waits at most merge_window_ns. So across queues the file is in time
// order except where a worker fell more than merge_window_ns behind; within
// one queue, order is always kept.
//
// run() returns when every worker is done and every ring is empty, when
// count_limit packets are written, when the files are done (-W with -G) or
// when the output fails; `finished` is set in all these cases. Packets that
// arrive after that are counted (over_limit or write_errors), not written.
class capture_writer {
public:
    capture_writer(std::vector<queue_channel*> channels, savefile_set& files, const writer_config& cfg);

    void run();

    const writer_counters& counters() const { return _ctr; }
    bool finished() const { return _finished.load(std::memory_order_acquire); }
    bool limit_reached() const { return _limit_reached; }
    // -W with -G finished its last file.
    bool files_done() const { return _files_done; }

    // One pass over the channels: pop, merge, write, return frames. `draining`
    // lifts the merge window. Returns how many packets were taken off the rings.
    // Exposed for tests, which drive it without a thread.
    size_t cycle(bool draining);

private:
    static constexpr size_t stage_size = 256;

    struct stage {
        rx_desc desc[stage_size];
        uint64_t ts[stage_size];
        size_t head = 0;
        size_t count = 0;
        uint64_t returned[stage_size];
        size_t nreturned = 0;
        bool empty() const { return head == count; }
    };

    bool refill(size_t q);
    void emit(size_t q);
    void give_back(size_t q);

    std::vector<queue_channel*> _channels;
    std::vector<stage> _stages;
    std::vector<uint64_t> _quiet_until;
    savefile_set& _files;
    writer_config _cfg;
    writer_counters _ctr;
    uint64_t _packet_id = 0;
    bool _limit_reached = false;
    bool _files_done = false;
    std::atomic<bool> _finished{false};
};

}  // namespace xcap
