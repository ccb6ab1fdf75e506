#include <algorithm>

#include "bpf/xcap_abi.h"
#include "cli/args.h"
#include "cli/subcommands.h"

namespace xcap {
namespace {

// --at entry|exit|entry,exit (either order).
void parse_at(const std::string& option, const std::string& value, trace_options& o) {
    o.at_entry = o.at_exit = false;
    size_t pos = 0;
    while (pos <= value.size()) {
        size_t comma = value.find(',', pos);
        std::string item = value.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
        if (item == "entry") {
            o.at_entry = true;
        } else if (item == "exit") {
            o.at_exit = true;
        } else {
            usage_error(option, value, "must be entry, exit or entry,exit");
        }
        if (comma == std::string::npos) {
            break;
        }
        pos = comma + 1;
    }
}

void check_trace(const trace_options& o, bool at_given) {
    if (o.capture.interfaces.size() > 1) {
        throw failure(failure_kind::usage, "xcap trace follows one interface's XDP program; " +
                                               std::to_string(o.capture.interfaces.size()) + " interfaces given",
                      "run one xcap trace per interface");
    }
    if (o.hook.empty() && o.capture.interface.empty()) {
        throw failure(failure_kind::usage, "no interface given",
                      "name the interface whose XDP program to trace with -i, or an xdpcap hook with --hook PATH");
    }
    if (!o.hook.empty() && (!o.program.empty() || at_given)) {
        throw failure(failure_kind::usage, "--program and --at do not go with --hook",
                      "the hook's programs record each packet once, as the program leaves it");
    }
    check_output_options(o.capture);
}

}  // namespace

cli_command parse_trace_command(const std::vector<std::string>& args) {
    cli_command cmd;
    cmd.what = cli_command::run_trace;
    trace_options& o = cmd.trace;
    bool at_given = false;
    filter_words filter;
    arg_walker arg(args, "see xcap trace --help");
    while (arg.next()) {
        const std::string& a = arg.name();
        if (parse_output_option(arg, o.capture)) {
            continue;
        }
        if (filter.take(arg)) {
            continue;
        }
        if (arg.is("-h", "--help")) {
            cmd.what = cli_command::trace_help;
            return cmd;
        } else if (arg.is("--hook")) {
            o.hook = arg.value();
            if (o.hook.empty()) {
                usage_error(a, "''", "needs the bpffs path of an xdpcap hook map");
            }
        } else if (arg.is("--program")) {
            o.program = arg.value();
            if (o.program.empty()) {
                usage_error(a, "''", "needs a program name or id");
            }
        } else if (arg.is("--at")) {
            parse_at(a, arg.value(), o);
            at_given = true;
        } else if (arg.is("--ring-size")) {
            const std::string v = arg.value();
            uint64_t bytes = parse_file_size(a, v);
            if (bytes < 4096 || bytes > (1ull << 31) || (bytes & (bytes - 1)) != 0) {
                usage_error(a, v, "must be a power of two from 4k to 2g (e.g. 8m)");
            }
            o.ring_bytes = bytes;
        } else {
            arg.unknown("trace option ");
        }
    }
    o.capture.filter = filter.finish();
    if (filter.dump) {
        // As tcpdump -d: the program the recorders would interpret, compiled
        // with the trace's snaplen (at most XCAP_TRACE_MAX_CAP).
        cmd.what = cli_command::dump_filter;
        cmd.capture.filter = o.capture.filter;
        cmd.capture.snaplen = std::min<uint32_t>(o.capture.snaplen, XCAP_TRACE_MAX_CAP);
        return cmd;
    }
    check_trace(o, at_given);
    return cmd;
}

}  // namespace xcap
