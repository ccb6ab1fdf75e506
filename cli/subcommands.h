#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cli/option_table.h"
#include "cli/options.h"

// One parser per subcommand, each in its own file with its option table and
// its manual (cli/option_table.h). parse_command_line (cli/options.cc) picks
// one by the first word; a new subcommand is a new file and a line in its
// table. Pure functions over constant tables.
namespace xcap {

// `args` excludes the subcommand's own name. Each throws failure(usage).
cli_command parse_capture_command(const std::vector<std::string>& args);
cli_command parse_replay_command(const std::vector<std::string>& args);
cli_command parse_trace_command(const std::vector<std::string>& args);

// Each subcommand's manual, its option table included.
const command_doc& capture_doc();
const command_doc& replay_doc();
const command_doc& trace_doc();

// The options a capture and a trace share (cli/output_options.cc), in a
// capture's words; a trace's table takes them in its own (with_help,
// grouped). Each writes parse_state::output (-F and -d: parse_state::filter).
namespace shared_option {
extern const option interface, write, packet_buffered, format, rotate_size, rotate_seconds, max_files, post_rotate,
    buffer_len, filter_file, dump_filter, count, snapshot_length, quiet, duration, stats, force, no_promiscuous_mode,
    micro, verbose, relinquish_privileges;
}

// What the output options require together: an output, and rotation only
// into files.
void check_output_options(const capture_options& o);

// The BPF ring buffers' sizes (--ring-size): a tap's, per CPU, and a trace's.
inline constexpr uint64_t ring_min = 4096;
inline constexpr uint64_t tap_ring_max = uint64_t(1) << 30;
inline constexpr uint64_t trace_ring_max = uint64_t(2) << 30;

}  // namespace xcap
