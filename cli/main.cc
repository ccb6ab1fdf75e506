#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "cli/options.h"
#include "common/error.h"

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

void print_lines(const std::string& text) {
    size_t pos = 0;
    while (pos < text.size()) {
        size_t nl = text.find('\n', pos);
        std::fprintf(stderr, "xcap: %s\n", text.substr(pos, nl - pos).c_str());
        pos = nl == std::string::npos ? text.size() : nl + 1;
    }
}

auto info_printer(bool quiet) {
    return [quiet](const std::string& line) {
        if (!quiet) {
            std::fprintf(stderr, "xcap: %s\n", line.c_str());
        }
    };
}

int replay_main(replay_options opts) {
    opts.progress = !opts.quiet && isatty(STDERR_FILENO);
    auto progress = [](const std::string& line) {
        // In place: return to the line's start, write, clear the rest.
        std::fprintf(stderr, "\r%s\033[K", line.empty() ? "" : ("xcap: " + line).c_str());
        std::fflush(stderr);
    };
    replay_result r = run_replay(opts, info_printer(opts.quiet), progress);
    if (r.empty) {
        std::fprintf(stderr, "xcap: %s holds no packets; nothing was sent\n", opts.input.c_str());
        return exit_ok;
    }
    print_lines(format_replay_summary(r.totals, opts.interface));
    if (r.input_error) {
        return fail(exit_code_for(r.input_error->kind()), r.input_error->what(), r.input_error->hint());
    }
    return exit_ok;
}

int capture_main(const capture_options& opts) {
    auto info = info_printer(opts.quiet);
    capture_result r = run_capture(opts, info);
    print_lines(format_summary(r.totals, opts.output_path == "-" ? "standard output" : opts.output_path));
    if (r.end == capture_end::output_closed) {
        info("the reader of standard output went away; stopped");
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

int run(const std::vector<std::string>& args) {
    cli_command cmd = parse_command_line(args);
    switch (cmd.what) {
        case cli_command::help: std::fputs(help_text(), stdout); return exit_ok;
        case cli_command::replay_help: std::fputs(replay_help_text(), stdout); return exit_ok;
        case cli_command::version: std::puts("xcap " XCAP_VERSION); return exit_ok;
        case cli_command::run_replay: return replay_main(cmd.replay);
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
