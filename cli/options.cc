#include "cli/options.h"

#include <string_view>

#include "cli/option_table.h"
#include "cli/subcommands.h"

namespace xcap {
namespace {

struct subcommand {
    std::string_view name;
    cli_command (*parse)(const std::vector<std::string>& args);
};

// Capture has no name of its own: tcpdump's spelling, "xcap -i eth0 -w f", is
// the default when the first word names no other subcommand.
constexpr subcommand subcommands[] = {
    {"replay", parse_replay_command},
    {"trace", parse_trace_command},
};

}  // namespace

int exit_code_for(failure_kind kind) {
    switch (kind) {
        case failure_kind::runtime: return exit_runtime;
        case failure_kind::usage: return exit_usage;
        case failure_kind::interface: return exit_interface;
        case failure_kind::permission: return exit_permission;
        case failure_kind::output: return exit_output;
        case failure_kind::xdp_busy: return exit_xdp_busy;
        case failure_kind::unsupported: return exit_unsupported;
        case failure_kind::input: return exit_input;
    }
    return exit_runtime;
}

cli_command parse_command_line(const std::vector<std::string>& args) {
    if (!args.empty()) {
        for (const auto& s : subcommands) {
            if (args[0] == s.name) {
                return s.parse(std::vector<std::string>(args.begin() + 1, args.end()));
            }
        }
    }
    return parse_capture_command(args);
}

std::string help_text() { return render_help(capture_doc()); }
std::string replay_help_text() { return render_help(replay_doc()); }
std::string trace_help_text() { return render_help(trace_doc()); }

}  // namespace xcap
