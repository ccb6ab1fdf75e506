#pragma once

// `xcap trace`: records the packets an XDP program that is already running
// sees, before and after it, with the action it returned, through the same
// writer, formats and rotation as a capture (modes/driver.h). The user's
// program is never detached, replaced or reloaded.

#include <cstdint>
#include <string>
#include <vector>

#include "modes/capture.h"
#include "sources/trace_recorder.h"

namespace xcap {

struct trace_options {
    // -i, -w, -c, -s, --duration, --stats, -C/-G/-W/-z, -U, --format,
    // --micro, -q, -v, --force and the filter expression (capture.filter)
    // mean what they mean for a capture. Trace writes pcapng unless --format
    // or the name says pcap.
    capture_options capture;
    std::string hook;       // --hook PATH: an xdpcap hook map in bpffs; "" = fentry/fexit
    std::string program;    // --program NAME|ID; "" = every program that sees the packets
    bool at_entry = true;   // --at entry
    bool at_exit = true;    // --at exit
    uint64_t ring_bytes = 8u << 20;  // --ring-size
};

// Everything counted during one trace, for the summary.
struct trace_totals {
    capture_totals capture;   // received (records taken from the ring), written, -c, snaplen, write errors
    std::vector<program_counts> programs;
    bool hook = false;
    bool at_entry = true;
    bool at_exit = true;
    uint64_t ring_bytes = 0;
    bool filtered = false;  // a filter expression ran in the recorders

    // Records the programs tried to write (recorded + ring full).
    uint64_t offered() const;
    uint64_t ring_full() const;
    // Packets the filter did not match (not recorded).
    uint64_t not_matched() const;
};

struct trace_result {
    trace_totals totals;
    capture_end end = capture_end::signal;
    output_failure output_error;
    std::string output_name;  // the files written, for the summary
};

// Runs one trace from setup to teardown. Setup failures throw failure with
// nothing left loaded; kill -9 leaves nothing either (see trace_recorder.h).
trace_result run_trace(const trace_options& opts, const capture_log& log);

// The exit summary, as lines for stderr.
std::string format_trace_summary(const trace_totals& t, const std::string& output_name);

}  // namespace xcap
