#pragma once

#include <string>
#include <vector>

#include "cli/options.h"

// One parser per subcommand, each in its own file, all built from cli/args.h.
// parse_command_line (cli/options.cc) picks one by the first word; a new
// subcommand is a new file and a line in its table. Pure functions.
namespace xcap {

// `args` excludes the subcommand's own name. Each throws failure(usage).
cli_command parse_capture_command(const std::vector<std::string>& args);
cli_command parse_replay_command(const std::vector<std::string>& args);
cli_command parse_trace_command(const std::vector<std::string>& args);

class arg_walker;

// The options a capture and a trace share: -i, -w, -c, -s, --duration,
// --stats, -C, -G, -W, -z, -U, --format, --micro, -q, -v and --force. True
// when the walker's current word was one of them (and `o` took it).
bool parse_output_option(arg_walker& arg, capture_options& o);
// What those require together: an output, and rotation only into files.
void check_output_options(const capture_options& o);

// The filter expression as tcpdump takes it, for a capture and a trace
// alike: the trailing words, or -F FILE (the whole file; line breaks are
// spaces); and -d, which prints the compiled program instead of running.
struct filter_words {
    std::string expression;
    std::string file;
    bool dump = false;

    // True when the walker's current word was one of them (and this took it).
    bool take(arg_walker& arg);
    // The expression ("" for none), read from the file with -F. Throws
    // failure(usage) when both are given or the file cannot be read.
    std::string finish() const;
};

}  // namespace xcap
