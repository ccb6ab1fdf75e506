#pragma once

#include <poll.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "sources/source.h"
#include "engine/stop_event.h"
#include "filter/user_filter.h"
#include "pcap/savefile.h"

namespace xcap {

struct writer_config {
    uint64_t count_limit = 0;                // stop writing after this many packets; 0 = no limit
    int64_t realtime_offset_ns = 0;          // added to the monotonic XDP stamps
    int64_t merge_window_ns = 1'000'000'000; // longest wait for a source with a packet in flight
    size_t merge_backlog = 4096;             // ... and no longer than the head's source has this many waiting
    bool flush_when_idle = false;            // for pipes: flush each time the sources run dry
    // Batched sleep, where every source has a doorbell (see run()): the
    // writer sleeps until some queue gathered `wake_batch` records or
    // `wake_latency_ns` passed. 0 = wake at every first record (-U).
    uint32_t wake_batch = 4096;
    int64_t wake_latency_ns = 100'000'000;
    // Bytes buffered for a regular file reach it within about this long
    // (plus one wake-up), so a crash (kill -9, the OOM killer) loses only
    // what came in the last moment; at high rates the buffer fills first.
    // 0 = only when the buffer is full.
    int64_t max_buffer_age_ns = 250'000'000;
    // A filter the XDP program could not hold, run here on each record
    // (not owned; null = none): what it does not match is not written.
    const user_filter* filter = nullptr;
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
    std::atomic<uint64_t> filter_rejected{0}; // writer_config::filter did not match: not written
    std::atomic<uint64_t> sleeps{0};          // times the thread blocked or napped with nothing to do
    std::atomic<uint64_t> rung{0};            // ... of them ended by a doorbell (a batch gathered)
};

// The capture loop: one thread that takes records from every source, merges
// them in timestamp order, writes each through the savefile_set, and gives
// them back to their source at once (for AF_XDP: straight onto the fill
// ring). Run to completion: no thread hands packets to another, so there is
// no per-packet synchronisation and no wake-up but the writer's own.
//
// Merge: the record with the smallest timestamp among the sources' heads is
// written next. When another source has nothing pending, the head is written
// once that source is known to have nothing older (packet_source::quiet:
// for AF_XDP, every packet the XDP program counted for the queue before the
// writer read its clock has been peeked or is known lost). Otherwise a packet
// is in flight (stamped, not yet on the ring) and the head waits: at most
// merge_window_ns, and only while fewer than merge_backlog records of the
// head's source wait on its ring (memory, not time, is what a wait costs:
// those frames are off the fill ring). So across sources the file is in time
// order except where a packet took that long from its stamp to its ring;
// within one source, order is always kept.
//
// Idle, with doorbells (AF_XDP sources with the capture program, tap's
// rings): after draining every source the writer arms each to ring once
// `wake_batch` records have gathered on it (tap: its program's own fill
// level), and blocks in poll() on the doorbells and the stop event for at
// most `wake_latency_ns`. At any rate it wakes about once per batch, when
// the batch is there (not on a guess of the rate; a burst cannot overrun the
// ring while it sleeps); where packets are sparse, once per latency bound
// (tcpdump's TPACKET_V3 timeout is 1 s). After two sleeps that brought
// nothing it arms for the next record and waits as long as every doorbell
// allows (no timeout for AF_XDP), so an idle capture costs nothing.
// Without doorbells (trace's ring, tests' plain rings): after draining
// the writer naps so that about `gather_target` packets gather (adaptive
// interrupt moderation: 50 µs to 2 ms); after a run of empty naps it blocks
// in poll() on the sources and the stop event.
//
// run() returns when a stop was requested and every source stayed drained
// for a grace period, when the output fails, when -c is reached or the files
// are done (-W with -G) and a stop was requested. finished() turns true as
// soon as any of the last three happens; records that arrive after that are
// counted (over_limit or write_errors), not written.
class capture_writer {
public:
    capture_writer(std::vector<packet_source*> sources, savefile_set& files, const writer_config& cfg);

    // The capture thread's loop; `stop` asks it to drain and return.
    void run(const stop_event& stop);

    const writer_counters& counters() const { return _ctr; }
    bool finished() const { return _finished.requested(); }
    // Readable once finished(): for the main thread's poll() set.
    const stop_event& finished_event() const { return _finished; }
    bool limit_reached() const { return _limit_reached; }
    // A filter runs here (writer_config::filter).
    bool filters() const { return _cfg.filter != nullptr; }
    // -W with -G finished its last file.
    bool files_done() const { return _files_done; }
    // Once finished(): the files' error (savefile_set::error()) when it
    // became finished, read on the capture thread; the savefile_set
    // itself is the capture thread's until run() returns.
    int output_error() const { return _output_error; }

    // One pass over the sources: peek, merge, write, release. `draining`
    // lifts the merge wait. Returns how many records were peeked. Exposed for
    // tests, which drive it without a thread.
    size_t cycle(bool draining);

private:
    static constexpr size_t stage_size = 256;

    struct stage {
        record_ref rec[stage_size];
        size_t released = 0;  // given back to the source
        size_t head = 0;      // next to write
        size_t count = 0;     // peeked
        bool empty() const { return head == count; }
    };

    bool refill(size_t q);
    // One batched sleep; false when a source had records (no sleep).
    bool sleep_on_doorbells(const stop_event& stop, uint32_t batch, int timeout_ms);
    // Writes the next `k` records of q's stage (a run no other source's
    // record goes between): through the filter, if there is one.
    void emit(size_t q, size_t k);
    void emit_records(record_ref* r, size_t k);
    void emit_filtered(record_ref* r, size_t k);
    // Flushes a regular file whose buffer holds bytes older than
    // max_buffer_age_ns, and completes rotated files the disk has
    // finished; returns how long until either needs another look (ms, for
    // a sleep's timeout; -1 when nothing waits).
    int flush_if_old();
    // How many records of `best`'s stage, from its head, go out before any
    // other source's: bounded by the other heads and by how long the idle
    // sources are known to be quiet (`check_quiet`: not while draining).
    size_t run_length(size_t best, bool check_quiet) const;
    void give_back(size_t q);
    bool crowded(size_t q) const;
    bool pending() const;

    std::vector<packet_source*> _sources;
    std::vector<stage> _stages;
    std::vector<uint64_t> _quiet_until;
    std::vector<doorbell*> _bells;   // distinct; empty unless every source has one
    std::vector<pollfd> _bell_fds;   // their fds, then the stop event's
    int64_t _next_record_wait_ns = -1;  // the longest wait for "the next record" every bell allows (-1: none)
    savefile_set& _files;
    writer_config _cfg;
    writer_counters _ctr;
    uint64_t _packet_id = 0;
    int64_t _buffered_since_ns = 0;  // when records were first written since the last age flush; 0 = none
    std::vector<uint8_t> _gathered;  // a multi-buffer packet in one piece, for the filter
    bool _limit_reached = false;
    bool _files_done = false;
    int _output_error = 0;  // written before _finished is requested
    stop_event _finished;
};

}  // namespace xcap
