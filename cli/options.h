#pragma once

#include <string>
#include <vector>

#include "modes/capture.h"
#include "modes/trace.h"
#include "replay/replay.h"
#include "common/error.h"

namespace xcap {

// Exit codes, documented in --help and the README.
enum exit_code : int {
    exit_ok = 0,
    exit_runtime = 1,      // failed while capturing (e.g. the output failed)
    exit_usage = 2,        // bad option or value
    exit_interface = 3,    // no such interface, interface down
    exit_permission = 4,   // not root / missing capability
    exit_output = 5,       // output not writable
    exit_xdp_busy = 6,     // another XDP program is attached (see --force)
    exit_unsupported = 7,  // kernel or driver refused (zero-copy, XDP mode, ...)
    exit_input = 8,        // replay: the input file is missing, unreadable, not a capture or not Ethernet
};

int exit_code_for(failure_kind kind);

struct cli_command {
    enum kind { run, run_replay, run_trace, help, replay_help, trace_help, version, dump_filter, list_interfaces,
                list_time_stamp_types } what = run;
    capture_options capture;
    replay_options replay;
    trace_options trace;
};

// Parses argv. Throws failure with a message naming the option and value.
cli_command parse_command_line(const std::vector<std::string>& args);

// "0,2-3" → {0, 2, 3}. Throws failure.
std::vector<uint32_t> parse_queue_list(const std::string& text);

// Each subcommand's --help, rendered from its option table (cli/option_table.h).
std::string help_text();
std::string replay_help_text();
std::string trace_help_text();

// xcap trace on an interface with no XDP program records its packets as
// --tap does instead: the capture options that takes, pcapng unless asked
// otherwise (pcap/savefile.h output_format). Throws failure(usage) when the trace's
// --ring-size is more than a tap's ring takes (1g): refused, not cut down.
capture_options tap_capture_for(const trace_options& o);

}  // namespace xcap
