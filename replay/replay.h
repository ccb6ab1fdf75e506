#pragma once

#include <linux/if_xdp.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "replay/schedule.h"
#include "common/error.h"
#include "engine/xdp_attach.h"
#include "engine/xsk.h"

namespace xcap {

enum class send_path { automatic, live_frames, socket };

struct replay_options {
    std::string interface;
    std::string input;                  // -r
    uint32_t queues = 1;                // --queues N: TX queues 0..N-1, flows hashed over them
    pacing pace;
    uint64_t loops = 1;                 // --loop; 0 = until stopped
    uint64_t limit = 0;                 // --limit packets; 0 = no limit
    double duration_s = 0;              // --duration
    int64_t preload_bytes = -1;         // --preload; -1 = min(25% of RAM, 1 GiB); 0 = always stream
    std::optional<xdp_mode> attach;     // --xdp-mode: attach a pass-through XDP program in this mode
    bind_mode bind = bind_mode::automatic;
    bool force = false;
    bool quiet = false;
    bool verbose = false;
    bool progress = false;              // a progress line on stderr (set when stderr is a terminal)
    // How packets leave. XDP live frames (BPF_PROG_RUN, XDP_TX) cost no skb
    // per packet, but only send --topspeed, from one CPU, a file that fits
    // in --preload, out of a driver that transmits XDP frames. automatic:
    // live frames where all of that holds, else the AF_XDP socket.
    // live_frames (--xdp-tx): live frames or a clear refusal. socket
    // (--no-xdp-tx): always the AF_XDP socket.
    send_path send = send_path::automatic;
};

struct replay_queue_totals {
    uint32_t queue = 0;
    bool zero_copy = false;
    uint64_t sent = 0;
    xdp_statistics xsk{};
};

struct replay_totals {
    std::vector<replay_queue_totals> queues;
    uint64_t sent = 0;               // completed by the kernel
    uint64_t sent_bytes = 0;
    uint64_t file_packets = 0;       // packets in one pass over the file
    uint64_t skipped_too_big = 0;
    uint64_t skipped_too_short = 0;
    uint64_t truncated = 0;          // caplen < original length: sent as captured
    uint64_t first_too_big = 0;      // 1-based packet number of the first one skipped as too big
    uint32_t first_too_big_len = 0;
    uint32_t max_frame = 0;          // the largest frame the interface takes (untagged)
    uint32_t frame_limit = 0;        // one UMEM frame, when that is less and sends cannot span several; else 0
    bool preloaded = false;
    bool paced = true;               // false with --topspeed: no schedule to miss
    bool xdp_tx = false;             // sent with --xdp-tx: `sent` is what the program handed the driver
    uint64_t xdp_failed = 0;         // --xdp-tx: runs that could not build their frame
    // What the interface itself dropped while sending (its tx_dropped
    // counter's rise, at most what xcap handed it): taken out of `sent`.
    uint64_t dropped_by_interface = 0;
    uint64_t interface_tx_dropped = 0;   // the counter's whole rise, other senders' drops included
    error_histogram errors;          // send time − due time, ns
    double seconds = 0;
};

struct replay_result {
    replay_totals totals;
    bool empty = false;              // the file holds no packets
    bool interrupted = false;
    // The input failed part-way (a truncated or corrupt capture): every whole
    // packet before the failure was sent; reported after the summary, exit 8.
    std::optional<failure> input_error;
};

// Sends a capture out of an interface. Setup failures throw failure,
// (read_error, kind input, for the file), with nothing left attached.
// `info` receives the informational lines, `warn` what the user must see
// even under -q (an interface without carrier), `progress` the in-place line.
replay_result run_replay(const replay_options& opts, const std::function<void(const std::string&)>& info,
                         const std::function<void(const std::string&)>& warn,
                         const std::function<void(const std::string&)>& progress);

std::string format_replay_summary(const replay_totals& t, const std::string& device);

}  // namespace xcap
