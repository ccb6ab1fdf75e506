#pragma once

#include <atomic>
#include <cstdint>
#include <vector>

#include "capture/channel.h"
#include "engine/stop_event.h"
#include "pcap/savefile.h"

namespace xcap {

struct writer_config {
    uint64_t count_limit = 0;          // stop writing after this many packets; 0 = no limit
    int64_t realtime_offset_ns = 0;    // added to the monotonic XDP stamps
    int64_t merge_window_ns = 1'000'000'000; // longest wait for a queue with a packet in flight
    size_t merge_backlog_frames = 4096;  // ... and no longer than the head's queue has this many waiting
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
// once that queue is known to have nothing older: the XDP program counts
// every packet it redirects to a queue (`issued`) before it reads the clock
// for the packet's stamp, so if at time t the writer reads `issued`, then
// finds the queue's RX ring and handoff ring empty, and has taken (or knows
// lost) as many packets as were issued, every packet still to come from that
// queue is stamped after t. Otherwise a packet is in flight (stamped, not yet
// on the ring), the queue's worker is behind, or a drop is not yet sampled,
// and the head waits: at most merge_window_ns, and only while fewer than
// merge_backlog_frames of the head's queue wait in its handoff ring (memory,
// not time, is what a wait costs: those frames are off the fill ring). So
// across queues the file is in time order except where a queue's worker
// fell that far behind; within one queue, order is always kept.
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
    bool finished() const { return _finished.requested(); }
    // Readable once finished(): for the main thread's poll() set.
    const stop_event& finished_event() const { return _finished; }
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

    static constexpr unsigned idle_rounds_before_block = 20;  // of 100 µs

    bool refill(size_t q);
    void block_until_rung(bool all_done);
    bool crowded(size_t q) const;
    void emit(size_t q);
    void give_back(size_t q);

    doorbell* _bell;  // shared by every channel; null in tests that drive cycle() by hand
    std::vector<queue_channel*> _channels;
    std::vector<stage> _stages;
    std::vector<uint64_t> _quiet_until;
    std::vector<uint64_t> _taken;  // descriptors popped per queue, all time
    savefile_set& _files;
    writer_config _cfg;
    writer_counters _ctr;
    uint64_t _packet_id = 0;
    bool _limit_reached = false;
    bool _files_done = false;
    stop_event _finished;
};

}  // namespace xcap
