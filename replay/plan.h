#pragma once

#include <cstdint>
#include <exception>
#include <vector>

#include "pcap/reader.h"
#include "replay/input.h"
#include "replay/replay.h"

// What happens to each packet of the capture and where a preloaded one
// sits: decided the same way on every pass, by whichever path sends.
// Plain values; each thread that reads a pass uses its own classifier.
namespace xcap {

// Sends or skips each packet (skips are counted in `t`).
struct classifier {
    uint32_t max_frame;   // untagged; +4 for a VLAN tag
    uint32_t frame_size;  // the most one send takes: a UMEM frame, or more with multi-buffer
    uint32_t chunk;       // the UMEM frame
    replay_totals& t;

    // The number of bytes to send, or 0 to skip (counted).
    uint32_t operator()(const read_packet& p, uint64_t number);

    // The same decisions, counted into `counts` instead.
    classifier counting_into(replay_totals& counts) const { return {max_frame, frame_size, chunk, counts}; }
};

// Places preloaded packets densely: several per UMEM chunk, never across a
// chunk's end (aligned mode lets a TX descriptor start anywhere in a chunk;
// preloaded frames are never rewritten, so sharing a chunk is safe).
struct packer {
    uint32_t chunk;
    uint64_t next = 0;

    // Where a packet of `len` bytes goes.
    uint64_t place(uint32_t len);
    uint64_t chunks() const { return (next + chunk - 1) / chunk; }
};

// The memory --preload allows, in bytes: the option, or by default a
// quarter of RAM and at most 1 GiB. 0: always stream.
int64_t preload_budget(const replay_options& opts);

// Whether the capture is loaded into the sockets' buffers before sending,
// and how many UMEM frames each queue needs for it.
struct preload_plan {
    bool preload = false;
    uint64_t readable = UINT64_MAX;   // packets before a read error, if any
    std::vector<uint32_t> frames;     // per queue
};

// One pass over a file that may fit the budget, which also counts and
// classifies its packets (into proto.t); a read error is kept in `read_failure`.
preload_plan plan_preload(const replay_options& opts, replay_input& input, const classifier& proto,
                          std::exception_ptr& read_failure);

}  // namespace xcap
