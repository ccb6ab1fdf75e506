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

}  // namespace xcap
