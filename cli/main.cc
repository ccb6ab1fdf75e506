#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>

#include "cli/console.h"
#include "cli/extcap.h"
#include "cli/interfaces.h"
#include "cli/options.h"
#include "common/error.h"
#include "engine/device.h"
#include "engine/xdp_attach.h"
#include "filter/filter.h"

namespace {

using namespace xcap;

int fail(int code, const std::string& message, const std::string& hint) {
    std::string line = "xcap: " + message;
    if (!hint.empty()) {
        line += "; " + hint;
    }
    std::fprintf(stderr, "%s\n", line.c_str());
    return code;
}

int replay_main(replay_options opts) {
    opts.progress = !opts.quiet && isatty(STDERR_FILENO);
    auto progress = [](const std::string& line) {
        // In place: return to the line's start, write, clear the rest.
        std::fprintf(stderr, "\r%s\033[K", line.empty() ? "" : ("xcap: " + line).c_str());
        std::fflush(stderr);
    };
    console out(opts.quiet);
    replay_result r = run_replay(opts, out.printer(line_kind::setup), out.printer(line_kind::warning), progress);
    if (r.empty) {
        std::fprintf(stderr, "xcap: %s holds no packets; nothing was sent\n",
                     opts.input == "-" ? "standard input" : opts.input.c_str());
        return exit_ok;
    }
    out.print_all(format_replay_summary(r.totals, opts.interface));
    if (r.input_error) {
        return fail(exit_code_for(r.input_error->kind()), r.input_error->what(), r.input_error->hint());
    }
    return exit_ok;
}

// The end of a capture or trace after its summary: a line for a reader that
// went away, and the exit status with its one line for an interface that
// disappeared or an output that failed. `kept` and `counted` name what the
// output holds ("packet it delivered", "packet counted as captured").
int capture_exit(console& out, capture_end end, const output_failure& error, const std::string& gone_line,
                 const std::string& kept, const std::string& counted) {
    if (end == capture_end::output_closed) {
        out.print(line_kind::setup, "the reader of standard output went away; stopped");
    }
    if (end == capture_end::interface_gone) {
        return fail(exit_interface, gone_line, "every " + kept + " before is in the output");
    }
    // EPIPE is the reader of a pipe going away: the normal end of `-w - | head`.
    if (end == capture_end::output_failed || (error.error && error.error != EPIPE)) {
        return fail(exit_runtime, "writing " + error.file + " failed: " + std::strerror(error.error),
                    (error.removed ? "nothing of it could be written, so it was removed"
                     : error.empty ? "nothing of it could be written, and it is empty"
                                   : "the file ends on a whole packet and holds every " + counted) +
                        "; free space or choose another output");
    }
    return exit_ok;
}

int capture_main(const capture_options& opts) {
    console out(opts.quiet);
    const capture_log log{out.printer(line_kind::setup), out.printer(line_kind::stats),
                          out.printer(line_kind::warning)};
    capture_result r = opts.tap ? run_tap(opts, log) : run_capture(opts, log);
    out.print_all(format_summary(r.totals, r.output_name));
    return capture_exit(out, r.end, r.output_error,
                        "interface " + (r.gone_interface.empty() ? opts.interface : r.gone_interface) +
                            " disappeared while capturing",
                        "packet it delivered", "packet counted as captured");
}

// With no XDP program on the interface there is nothing to trace: as
// xdpdump falls back to a plain capture, xcap records the interface's
// packets as --tap does (every packet goes on to the stack), into the same
// file, pcapng unless asked otherwise. Only without --hook and --program.
std::optional<capture_options> tap_fallback(const trace_options& opts) {
    if (!opts.hook.empty() || !opts.program.empty() || opts.capture.interface.empty()) {
        return std::nullopt;
    }
    device_info dev = probe_device(opts.capture.interface);
    if (query_attached(dev.ifindex)) {
        return std::nullopt;
    }
    return tap_capture_for(opts);
}

int trace_main(const trace_options& opts) {
    if (!opts.capture.filter.empty()) {
        // A bad expression is exit 2 before anything else is said or done,
        // the tap fallback's line included (run_trace and run_tap compile it
        // again for their own use).
        compile_filter(opts.capture.filter, opts.capture.snaplen);
    }
    if (auto co = tap_fallback(opts)) {
        console(opts.capture.quiet)
            .print(line_kind::warning, opts.capture.interface +
                                           " has no XDP program attached: nothing to trace; capturing its packets as "
                                           "--tap does instead (every packet goes on to the stack)");
        return capture_main(*co);
    }
    console out(opts.capture.quiet);
    trace_result r = run_trace(
        opts, {out.printer(line_kind::setup), out.printer(line_kind::stats), out.printer(line_kind::warning)});
    out.print_all(format_trace_summary(r.totals, r.output_name));
    return capture_exit(out, r.end, r.output_error, "interface " + opts.capture.interface + " disappeared while tracing",
                        "record taken", "record counted as written");
}

int run(const std::vector<std::string>& args) {
    if (is_extcap_call(args)) {
        return extcap_main(args);
    }
    cli_command cmd = parse_command_line(args);
    switch (cmd.what) {
        case cli_command::help: std::fputs(help_text().c_str(), stdout); return exit_ok;
        case cli_command::replay_help: std::fputs(replay_help_text().c_str(), stdout); return exit_ok;
        case cli_command::version: std::puts("xcap " XCAP_VERSION); return exit_ok;
        case cli_command::run_replay: return replay_main(cmd.replay);
        case cli_command::trace_help: std::fputs(trace_help_text().c_str(), stdout); return exit_ok;
        case cli_command::run_trace: return trace_main(cmd.trace);
        case cli_command::dump_filter:
            // As tcpdump -d: the classic program libpcap compiled, which xcap
            // then translates to eBPF for the XDP program.
            std::fputs(dump_classic(compile_filter(cmd.capture.filter, cmd.capture.snaplen)).c_str(), stdout);
            return exit_ok;
        case cli_command::list_interfaces:
            // Gathered whole first: a failure is one line, not half a list.
            std::fputs(list_interfaces_text().c_str(), stdout);
            return exit_ok;
        case cli_command::list_time_stamp_types:
            std::fputs(time_stamp_types_text(cmd.capture.interface).c_str(), stdout);
            return exit_ok;
        case cli_command::run: break;
    }
    return capture_main(cmd.capture);
}

}  // namespace

int main(int argc, char** argv) {
    // The one place a failure becomes a line and an exit code.
    try {
        return run(std::vector<std::string>(argv + 1, argv + argc));
    } catch (const failure& e) {
        return fail(exit_code_for(e.kind()), e.what(), e.hint());
    } catch (const std::exception& e) {
        return fail(exit_runtime, e.what(), "");
    }
}
