#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <iostream>

#include "engine/error.h"
#include "cli/options.h"
#include "pcap/reader.h"

namespace {

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

int replay_main(xcap::replay_options opts) {
    using namespace xcap;
    opts.progress = !opts.quiet && isatty(STDERR_FILENO);
    auto info = [&](const std::string& line) {
        if (!opts.quiet) {
            std::fprintf(stderr, "xcap: %s\n", line.c_str());
        }
    };
    auto progress = [](const std::string& line) {
        // In place: return to the line's start, write, clear the rest.
        std::fprintf(stderr, "\r%s\033[K", line.empty() ? "" : ("xcap: " + line).c_str());
        std::fflush(stderr);
    };
    replay_result r;
    try {
        r = run_replay(opts, info, progress);
    } catch (const read_error& e) {
        return fail(exit_input, e.what(), "replay needs a readable pcap or pcapng capture of Ethernet frames");
    } catch (const setup_error& e) {
        return fail(exit_code_for(e.kind()), e.what(), e.hint());
    } catch (const usage_error& e) {
        return fail(exit_code_for(e.kind()), e.what(), e.hint());
    } catch (const std::exception& e) {
        return fail(exit_runtime, e.what(), "");
    }
    if (r.empty) {
        std::fprintf(stderr, "xcap: %s holds no packets; nothing was sent\n", opts.input.c_str());
        return exit_ok;
    }
    print_lines(format_replay_summary(r.totals, opts.interface));
    return exit_ok;
}

}  // namespace

int main(int argc, char** argv) {
    using namespace xcap;
    std::vector<std::string> args(argv + 1, argv + argc);
    cli_command cmd;
    try {
        cmd = parse_command_line(args);
    } catch (const usage_error& e) {
        return fail(exit_usage, e.what(), e.hint());
    }
    if (cmd.what == cli_command::help) {
        std::fputs(help_text(), stdout);
        return exit_ok;
    }
    if (cmd.what == cli_command::replay_help) {
        std::fputs(replay_help_text(), stdout);
        return exit_ok;
    }
    if (cmd.what == cli_command::version) {
        std::puts("xcap " XCAP_VERSION);
        return exit_ok;
    }
    if (cmd.what == cli_command::run_replay) {
        return replay_main(cmd.replay);
    }
    const capture_options& opts = cmd.capture;
    auto info = [&](const std::string& line) {
        if (!opts.quiet) {
            std::fprintf(stderr, "xcap: %s\n", line.c_str());
        }
    };
    capture_result r;
    try {
        r = run_capture(opts, info);
    } catch (const setup_error& e) {
        return fail(exit_code_for(e.kind()), e.what(), e.hint());
    } catch (const usage_error& e) {
        return fail(exit_code_for(e.kind()), e.what(), e.hint());
    } catch (const std::system_error& e) {
        // Only the output is opened outside the engine's own error type.
        return fail(exit_output, e.what(), "choose a writable path, or -w - for standard output");
    } catch (const std::exception& e) {
        return fail(exit_runtime, e.what(), "");
    }

    print_lines(format_summary(r.totals, opts.output_path == "-" ? "standard output" : opts.output_path));
    if (r.end == capture_end::output_closed) {
        info("the reader of standard output went away; stopped");
    }
    if (r.end == capture_end::output_failed) {
        return fail(exit_runtime,
                    "writing " + (opts.output_path == "-" ? std::string("standard output") : opts.output_path) +
                        " failed: " + std::strerror(r.output_errno),
                    "the file holds every packet counted as captured; free space or choose another output");
    }
    return exit_ok;
}
