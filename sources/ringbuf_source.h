#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <deque>
#include <vector>

#include "sources/source.h"

namespace xcap {

// A BPF ring buffer (BPF_MAP_TYPE_RINGBUF) as a packet source, for the
// modes whose XDP-side programs copy packets (tap, trace). Each record is an
// xcap_ring_record (bpf/xcap_abi.h) followed by the packet's first bytes; it
// is read in place in the ring's mmap, and release() hands its space back
// by advancing the consumer position. Nothing is copied on the way to the
// writer.
//
// Order: the ring keeps the order of reservation. Records from several CPUs
// share it, so two packets stamped a few nanoseconds apart on two CPUs can
// be in the other order; within a CPU the order is kept.
//
// Quiet rule: the programs reserve a record before they read the clock. If,
// after the caller read the clock, every record up to the producer position
// has been peeked, a record still to come is stamped after that reading. A
// reserved record whose program has not committed it yet (the kernel's busy
// bit) is in flight.
//
// Threading: one thread (the writer) calls everything except counters().
class ringbuf_source final : public packet_source, public doorbell {
public:
    // What the source needs besides the ring.
    struct options {
        // Interface index (ifindex) -> index among the output's interfaces;
        // a record from an interface not listed gets interface 0.
        std::vector<std::pair<uint32_t, uint32_t>> interfaces;
        // Packets the programs could not record so far (ring full), summed
        // over CPUs; read by sample_drops(). Empty: no drop counter.
        std::function<uint64_t()> lost;
        // Lazy wake-ups of the programs that fill the ring (on: records wake
        // the reader only every so many bytes; off: at the first record).
        // Empty: not supported, and the writer naps.
        std::function<void(bool)> lazy_wake;
    };

    // Maps the ring of `map_fd` (the map stays owned by the caller).
    ringbuf_source(int map_fd, options opts);

    // A ring in plain memory, for tests that play the kernel: `data` is
    // 2 * size bytes holding the same size bytes twice (as the kernel maps
    // the data pages twice), size a power of two.
    struct plain_ring {
        uint64_t* consumer_pos;
        const uint64_t* producer_pos;
        const uint8_t* data;
        uint64_t size;
    };
    ringbuf_source(const plain_ring& ring, options opts);

    ~ringbuf_source() override;
    ringbuf_source(const ringbuf_source&) = delete;
    ringbuf_source& operator=(const ringbuf_source&) = delete;

    // Names a traced program for the records' comments ("entry NAME",
    // "exit NAME"; with no name for an id, "entry prog ID"). Before the
    // first peek: records point into these names.
    void name_program(uint32_t prog_id, const std::string& name);

    size_t peek(record_ref* out, size_t max) override;
    void release(const record_ref* records, size_t n) override;
    quiet_state quiet() override;
    // Bytes waiting, in 64-byte units (the writer's merge_backlog is a count).
    size_t backlog() const override;
    int wait_fd() const override { return _fd; }
    // The ring is its own doorbell, with lazy wake-ups on while the writer
    // sleeps in batches. Its "next record" wake-up can be missed (the
    // program reads the flag without a barrier): one second at most.
    arm_state arm(uint32_t batch) override;
    doorbell* bell() const override { return _opts.lazy_wake ? const_cast<ringbuf_source*>(this) : nullptr; }
    int fd() const override { return _fd; }
    void clear() override {}
    int64_t longest_wait_ns() const override { return 1'000'000'000; }
    void sample_drops() override;
    // Records carry their own queue; this is for the summary only.
    uint32_t queue() const override { return 0; }

    uint64_t ring_size() const { return _size; }

private:
    struct program_names {
        uint32_t id;
        std::string entry;
        std::string exit;
    };
    uint32_t interface_of(uint32_t ifindex);
    const char* comment_for(uint32_t prog_id, uint32_t flags);

    int _fd = -1;
    void* _consumer_map = nullptr;  // the consumer page (read-write), when mapped
    void* _producer_map = nullptr;  // the producer page and the data pages twice (read-only)
    size_t _producer_map_len = 0;
    uint64_t* _consumer_pos;
    const uint64_t* _producer_pos;
    const uint8_t* _data;
    uint64_t _size;
    uint64_t _mask;
    options _opts;
    uint64_t _peek_pos = 0;      // next record to look at
    size_t _outstanding = 0;     // peeked and not released
    uint32_t _last_ifindex = 0;  // a one-entry cache for interface_of
    uint32_t _last_interface = 0;
    std::deque<program_names> _programs;  // a deque: records point into its strings, which must not move
    uint64_t _lost_seen = 0;
};

}  // namespace xcap
