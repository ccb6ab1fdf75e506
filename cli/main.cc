#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "cli/console.h"
#include "cli/interfaces.h"
#include "cli/options.h"
#include "common/error.h"
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
    replay_result r = run_replay(opts, out.printer(line_kind::setup), progress);
    if (r.empty) {
        std::fprintf(stderr, "xcap: %s holds no packets; nothing was sent\n", opts.input.c_str());
        return exit_ok;
    }
    out.print_all(format_replay_summary(r.totals, opts.interface));
    if (r.input_error) {
        return fail(exit_code_for(r.input_error->kind()), r.input_error->what(), r.input_error->hint());
    }
    return exit_ok;
}

int capture_main(const capture_options& opts) {
    console out(opts.quiet);
    capture_result r = run_capture(
        opts, {out.printer(line_kind::setup), out.printer(line_kind::stats), out.printer(line_kind::warning)});
    out.print_all(format_summary(r.totals, opts.output_path == "-" ? "standard output" : opts.output_path));
    if (r.end == capture_end::output_closed) {
        out.print(line_kind::setup, "the reader of standard output went away; stopped");
    }
    if (r.end == capture_end::interface_gone) {
        return fail(exit_interface, "interface " + opts.interface + " disappeared while capturing",
                    "every packet it delivered before is in the output");
    }
    // EPIPE is the reader of a pipe going away: the normal end of `-w - | head`.
    if (r.end == capture_end::output_failed || (r.output_error.error && r.output_error.error != EPIPE)) {
        return fail(exit_runtime, "writing " + r.output_error.file + " failed: " + std::strerror(r.output_error.error),
                    "the file ends on a whole packet and holds every packet counted as captured; free space or "
                    "choose another output");
    }
    return exit_ok;
}

int trace_main(const trace_options& opts) {
    console out(opts.capture.quiet);
    trace_result r = run_trace(
        opts, {out.printer(line_kind::setup), out.printer(line_kind::stats), out.printer(line_kind::warning)});
    const std::string& path = opts.capture.output_path;
    out.print_all(format_trace_summary(r.totals, path == "-" ? "standard output" : path));
    if (r.end == capture_end::output_closed) {
        out.print(line_kind::setup, "the reader of standard output went away; stopped");
    }
    if (r.end == capture_end::interface_gone) {
        return fail(exit_interface, "interface " + opts.capture.interface + " disappeared while tracing",
                    "every record taken before is in the output");
    }
    if (r.end == capture_end::output_failed || (r.output_error.error && r.output_error.error != EPIPE)) {
        return fail(exit_runtime, "writing " + r.output_error.file + " failed: " + std::strerror(r.output_error.error),
                    "the file ends on a whole packet and holds every record counted as written; free space or "
                    "choose another output");
    }
    return exit_ok;
}

int run(const std::vector<std::string>& args) {
    cli_command cmd = parse_command_line(args);
    switch (cmd.what) {
        case cli_command::help: std::fputs(help_text(), stdout); return exit_ok;
        case cli_command::replay_help: std::fputs(replay_help_text(), stdout); return exit_ok;
        case cli_command::version: std::puts("xcap " XCAP_VERSION); return exit_ok;
        case cli_command::run_replay: return replay_main(cmd.replay);
        case cli_command::trace_help: std::fputs(trace_help_text(), stdout); return exit_ok;
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
