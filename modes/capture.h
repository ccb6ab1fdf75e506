#pragma once

#include <linux/if_xdp.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "pcap/savefile.h"
#include "bpf/xcap_abi.h"
#include "engine/xdp_attach.h"
#include "engine/xsk.h"

namespace xcap {

// Which packets --tap records (-Q, as tcpdump's): received, sent, or both.
enum class capture_direction { in, out, inout };

struct capture_options {
    std::string interface;             // the first of `interfaces` (the one a single-interface mode uses)
    std::vector<std::string> interfaces; // every -i, in order (-i a,b counts as two); empty = {interface}
    std::string output_path;           // "-" for standard output
    std::optional<file_format> format; // --format; default by the name's extension
    uint64_t rotate_bytes = 0;         // -C
    uint32_t rotate_seconds = 0;       // -G
    uint32_t max_files = 0;            // -W
    std::string post_rotate;           // -z
    uint64_t disk_buffer = 256u << 20; // --buffer-len: bytes between the capture and a disk (0 = none)
    bool packet_buffered = false;      // -U: flush after every batch, to files too
    std::string filter;                // tcpdump filter expression; "" = every packet
    uint64_t count = 0;                // -c; 0 = unlimited
    uint32_t snaplen = 262144;         // -s
    bool nanosecond = true;            // false with --micro
    double duration_s = 0;             // --duration; 0 = until interrupted
    double stats_interval_s = 0;       // --stats; 0 = no live line
    std::vector<uint32_t> queues;      // --queues; empty = all
    xdp_mode mode = xdp_mode::automatic;
    bind_mode bind = bind_mode::automatic;
    bool force = false;
    bool promiscuous = true;           // false with -p: the NIC's MAC filter stays on
    bool quiet = false;
    bool verbose = false;
    uint64_t buffer_kib = 65536;       // -B: UMEM per queue (see umem_frames)
    bool tap = false;                  // --tap: copy through BPF ring buffers, every packet goes on
    uint64_t ring_bytes = 16u << 20;   // --ring-size: bytes of ring buffer per CPU (tap)
    std::optional<std::string> run_as; // -Z USER; nullopt: the default (engine/privileges.h)
    std::optional<capture_direction> direction;  // -Q; unset: inout with --tap, in otherwise
    bool nic_time = false;             // -j adapter_unsynced: the NIC's receive time stamps
    bool list_time_stamp_types = false; // -J

    // `interfaces`, or {interface} when it is empty.
    std::vector<std::string> all_interfaces() const {
        return interfaces.empty() ? std::vector<std::string>{interface} : interfaces;
    }
};

// A queue's UMEM frames: 2 KiB each where the interface's largest frame
// fits one (after the kernel's headroom) and the kernel takes multi-buffer
// (a longer frame, should one come, then spans two), else 4 KiB. Twice the
// packets in the same memory at MTU 1500: the buffer rides out stalls of
// twice the length.
uint32_t umem_frame_size(uint32_t largest_frame, bool multi_buffer);
// How many frames `kib` holds, rounded down to a power of two (the rings
// want one) rather than take more memory than asked for.
uint32_t umem_frames(uint64_t kib, uint32_t frame_size);

// One reason a mode's sources or programs lost packets, with its count,
// named as the summary prints it. A mode lists its own (AF_XDP's six
// socket statistics, a ring's ring_full, ...); the summary and --stats
// print whatever they are given, with no knowledge of the mode.
struct loss {
    std::string name;                  // in the summary's "dropped:" line
    uint64_t count = 0;
    const char* stats_name = nullptr;  // in the --stats line's parentheses; null = not there
    int stats_rank = 0;                // order there, lowest first
    bool only_when_nonzero = false;    // named (after write_errors, and as "; N name" in
                                       // --stats) only when there are any
};

// What one queue of one interface counted (for tap, over every CPU's ring).
struct queue_totals {
    uint32_t interface = 0;  // index into capture_totals::interfaces
    uint32_t queue = 0;
    uint64_t received = 0;   // handed to xcap
    uint64_t offered = 0;    // reached the queue's program or socket (received, dropped there, or
                             // not yet read)
    uint64_t dropped = 0;    // lost on the way, each packet counted once
};

// Everything counted during one capture, for the summary and --stats.
struct capture_totals {
    std::vector<std::string> interfaces;  // names, in the output's interface order
    std::vector<queue_totals> queues;
    uint64_t received = 0;       // handed to xcap by the sockets
    uint64_t received_bytes = 0;
    uint64_t written = 0;
    uint64_t written_bytes = 0;
    uint64_t snaplen_cut = 0;
    uint64_t write_errors = 0;
    uint64_t buffer_full = 0;     // dropped because --buffer-len was full (the disk fell behind)
    uint64_t over_limit = 0;
    uint64_t meta_missing = 0;
    bool filtered = false;        // a filter expression ran in XDP
    uint64_t filter_rejected = 0; // packets it did not match: passed on to the stack
    bool user_filtered = false;   // the filter ran on the capture thread instead (too long for XDP)
    uint64_t user_filter_rejected = 0; // packets it did not match there: not written
    std::vector<loss> losses;     // the mode's, by reason, summed (they may overlap: see dropped)
    uint64_t dropped_elsewhere = 0;  // lost outside any queue (e.g. frames too large for the sockets)
    std::vector<std::string> program_lines;  // how the mode's programs fared, for the summary
    double seconds = 0;

    // Packets the kernel or xcap dropped (not counting -c and snaplen).
    uint64_t dropped() const;
};

// How each mode names its counts (modes/summary.cc): redirect's sockets
// (the six XDP_STATISTICS counters, summed, and frames too large for
// them) and programs (seen, redirected, passed; the filter's rejections;
// the copy-mode note when fill-ring drops are counted twice); tap's rings
// (ring_full) and programs.
std::vector<loss> socket_losses(const xdp_statistics& summed, uint64_t too_large, uint64_t no_headroom = 0);
std::vector<std::string> redirect_program_lines(const xcap_rx_counters& summed, bool copy_mode_overlap, bool filtered,
                                                uint64_t rejected);
std::vector<loss> ring_losses(uint64_t ring_full);
std::string tap_program_line(const xcap_ring_counters& summed, bool filtered, uint64_t rejected);

// For pcapng's Interface Statistics Blocks, per interface: what reached
// each (offered) and every drop. Write errors are the output's, not an
// interface's: with one interface they count there.
std::vector<interface_statistics> interface_counts(const capture_totals& t);

// The exit summary, as lines for stderr.
std::string format_summary(const capture_totals& t, const std::string& output_name);
// The --stats line: rates over the interval from `prev` to `now`.
std::string format_stats_line(const capture_totals& prev, const capture_totals& now, double interval_s);

// What ended the capture.
enum class capture_end { signal, count, duration, files_done, output_closed, output_failed, interface_gone };

struct capture_result {
    capture_totals totals;
    capture_end end = capture_end::signal;
    std::string gone_interface;   // with interface_gone: which one
    output_failure output_error;  // the first failed write or open, with its file
    std::string output_name;      // the files written, for the summary (savefile_set::files_description)
};

// Runs one capture from setup to teardown. Setup failures throw failure
// (every kind, the output included), with nothing left attached.
// `info` receives the informational lines (queue setup, --stats).
// Where run_capture's lines go: `info` the setup lines (-q drops them),
// `stats` the --stats lines, `warn` what went wrong while the capture goes on.
struct capture_log {
    std::function<void(const std::string&)> info;
    std::function<void(const std::string&)> stats;
    std::function<void(const std::string&)> warn;
};

capture_result run_capture(const capture_options& opts, const capture_log& log);

// The same for --tap (modes/tap.cc): a copy of every packet goes
// through BPF ring buffers and the packet goes on to the stack.
capture_result run_tap(const capture_options& opts, const capture_log& log);

}  // namespace xcap
