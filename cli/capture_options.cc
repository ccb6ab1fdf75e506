#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <sstream>

#include "bpf/xcap_abi.h"
#include "cli/args.h"
#include "cli/subcommands.h"
#include "pcap/pcap_writer.h"

namespace xcap {
namespace {

constexpr choice<file_format> file_formats[] = {{"pcap", file_format::pcap}, {"pcapng", file_format::pcapng}};

// tcpdump's -F: the whole file is the expression; line breaks are spaces.
std::string read_filter_file(const std::string& path) {
    const char* hint = "name a readable file holding a tcpdump filter expression";
    // A directory opens and reads as empty: that would be no filter at all.
    struct stat st{};
    if (stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode)) {
        throw failure(failure_kind::usage, "-F " + path + ": " +
                                               (S_ISDIR(st.st_mode) ? "is a directory" : "is not a regular file") +
                                               ", not a filter file",
                      hint);
    }
    std::ifstream f(path);
    if (!f) {
        throw failure(failure_kind::usage, errno, "-F " + path + ": cannot read the filter file", hint);
    }
    std::stringstream text;
    text << f.rdbuf();
    if (f.bad()) {
        throw failure(failure_kind::usage, errno, "-F " + path + ": cannot read the filter file", hint);
    }
    std::string s = text.str();
    std::replace(s.begin(), s.end(), '\n', ' ');
    return s;
}

// --ring-size: KiB, or KiB/MiB/GiB with a k/m/g suffix; from a page to 1 GiB.
uint64_t parse_ring_size(const std::string& option, const std::string& value) {
    std::string digits = value;
    uint64_t unit = 1024;
    if (!digits.empty()) {
        switch (digits.back()) {
            case 'k': case 'K': unit = 1ull << 10; digits.pop_back(); break;
            case 'm': case 'M': unit = 1ull << 20; digits.pop_back(); break;
            case 'g': case 'G': unit = 1ull << 30; digits.pop_back(); break;
            default: break;
        }
    }
    if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos || digits.size() > 10) {
        usage_error(option, value, "not a size (KiB, or a number with a k, m or g suffix)");
    }
    uint64_t bytes = std::stoull(digits) * unit;
    if (bytes < 4096 || bytes > (1ull << 30)) {
        usage_error(option, value, "out of range (4k to 1g)");
    }
    return bytes;
}

// -i a,b and -i a -i b: every name once, in order.
void add_interfaces(capture_options& o, const std::string& option, const std::string& value) {
    size_t pos = 0;
    for (;;) {
        size_t comma = value.find(',', pos);
        std::string name = value.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
        if (name.empty()) {
            usage_error(option, "'" + value + "'", "an empty interface name");
        }
        if (std::find(o.interfaces.begin(), o.interfaces.end(), name) != o.interfaces.end()) {
            usage_error(option, name, "interface named twice");
        }
        o.interfaces.push_back(name);
        if (comma == std::string::npos) {
            break;
        }
        pos = comma + 1;
    }
    o.interface = o.interfaces.front();
}

// What no single option can check: what is required, and what goes together.
void check_capture(const capture_options& o, bool buffer_given, bool ring_given) {
    if (o.interface.empty()) {
        throw failure(failure_kind::usage, "no interface given", "name one with -i, e.g. xcap -i eth0 -w out.pcap");
    }
    if (o.interfaces.size() > 1 && !o.output_path.empty() &&
        o.format.value_or(format_for_path(o.output_path)) == file_format::pcap) {
        throw failure(failure_kind::usage,
                      std::to_string(o.interfaces.size()) +
                          " interfaces given, but classic pcap cannot say which interface a packet came from",
                      "write pcapng (a name ending in .pcapng, or --format pcapng), or capture one interface");
    }
    if (o.tap && (!o.queues.empty() || o.bind != bind_mode::automatic || buffer_given)) {
        throw failure(failure_kind::usage,
                      std::string(!o.queues.empty() ? "--queues" : o.bind != bind_mode::automatic ? "--bind" : "-B") +
                          " does not apply to --tap (it copies from every queue through BPF ring buffers, no AF_XDP "
                          "sockets)",
                      "leave it out; --ring-size sets the ring buffers' size");
    }
    if (ring_given && !o.tap) {
        throw failure(failure_kind::usage, "--ring-size applies only to --tap",
                      "add --tap, or size redirect mode's buffer with -B");
    }
    check_output_options(o);
}

}  // namespace

void check_output_options(const capture_options& o) {
    if (o.output_path.empty()) {
        throw failure(failure_kind::usage, "no output given",
                      "name a file with -w FILE, or write to standard output with -w -");
    }
    bool rotating = o.rotate_bytes || o.rotate_seconds;
    if (o.output_path == "-" && (rotating || o.max_files || !o.post_rotate.empty())) {
        throw failure(failure_kind::usage, "-C, -G, -W and -z need a file, not standard output",
                      "name a file with -w");
    }
    if (o.max_files && !rotating) {
        throw failure(failure_kind::usage, "-W needs -C or -G", "see xcap --help");
    }
}

std::vector<uint32_t> parse_queue_list(const std::string& text) {
    std::vector<uint32_t> queues;
    size_t pos = 0;
    if (text.empty()) {
        usage_error("--queues", "''", "empty list");
    }
    while (pos <= text.size()) {
        size_t comma = text.find(',', pos);
        std::string item = text.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
        size_t dash = item.find('-');
        uint32_t lo, hi;
        if (dash == std::string::npos) {
            lo = hi = uint32_t(parse_uint("--queues", item, 0, XCAP_MAX_QUEUES - 1));
        } else {
            lo = uint32_t(parse_uint("--queues", item.substr(0, dash), 0, XCAP_MAX_QUEUES - 1));
            hi = uint32_t(parse_uint("--queues", item.substr(dash + 1), 0, XCAP_MAX_QUEUES - 1));
            if (hi < lo) {
                usage_error("--queues", item, "range runs backwards");
            }
        }
        for (uint32_t q = lo; q <= hi; ++q) {
            if (std::find(queues.begin(), queues.end(), q) != queues.end()) {
                usage_error("--queues", text, "queue " + std::to_string(q) + " named twice");
            }
            queues.push_back(q);
        }
        if (comma == std::string::npos) {
            break;
        }
        pos = comma + 1;
    }
    return queues;
}

bool parse_output_option(arg_walker& arg, capture_options& o) {
    const std::string& a = arg.name();
    if (arg.operand()) {
        return false;
    }
    if (arg.flag("-U", "--packet-buffered", o.packet_buffered) || arg.flag("-q", "--quiet", o.quiet) ||
        arg.flag("-v", "--verbose", o.verbose) || arg.flag("--force", nullptr, o.force) ||
        arg.flag("-p", "--no-promiscuous-mode", o.promiscuous, false) ||
        arg.flag("--micro", nullptr, o.nanosecond, false)) {
        return true;
    }
    if (arg.is("-i", "--interface")) {
        add_interfaces(o, a, arg.value());
    } else if (arg.is("-w", "--write")) {
        o.output_path = arg.value();
        if (o.output_path.empty()) {
            usage_error(a, "''", "needs a file name, or - for standard output");
        }
    } else if (arg.is("-c", "--count")) {
        o.count = parse_uint(a, arg.value(), 1, UINT64_MAX);
    } else if (arg.is("-s", "--snapshot-length")) {
        uint64_t s = parse_uint(a, arg.value(), 0, max_snaplen);
        o.snaplen = s == 0 ? max_snaplen : uint32_t(s);
    } else if (arg.is("--duration")) {
        o.duration_s = parse_seconds(a, arg.value());
    } else if (arg.is("--stats")) {
        o.stats_interval_s = parse_seconds(a, arg.value());
    } else if (arg.is("-C")) {
        o.rotate_bytes = parse_file_size(a, arg.value());
    } else if (arg.is("-G")) {
        o.rotate_seconds = uint32_t(parse_uint(a, arg.value(), 1, 31'536'000));
    } else if (arg.is("-W")) {
        o.max_files = uint32_t(parse_uint(a, arg.value(), 1, 1'000'000));
    } else if (arg.is("-z")) {
        o.post_rotate = arg.value();
        if (o.post_rotate.empty()) {
            usage_error(a, "''", "needs a command");
        }
    } else if (arg.is("--format")) {
        o.format = parse_choice(a, arg.value(), file_formats);
    } else {
        return false;
    }
    return true;
}

bool filter_words::take(arg_walker& arg) {
    if (arg.operand()) {
        expression += (expression.empty() ? "" : " ") + arg.name();
    } else if (arg.is("-F")) {
        file = arg.value();
    } else if (arg.is("-d")) {
        arg.flag();
        dump = true;
    } else {
        return false;
    }
    return true;
}

std::string filter_words::finish() const {
    if (file.empty()) {
        return expression;
    }
    if (!expression.empty()) {
        throw failure(failure_kind::usage, "a filter expression both on the command line and in -F " + file,
                      "give it one way");
    }
    return read_filter_file(file);
}

cli_command parse_capture_command(const std::vector<std::string>& args) {
    cli_command cmd;
    capture_options& o = cmd.capture;
    arg_walker arg(args, "see xcap --help");
    filter_words filter;
    bool buffer_given = false;
    bool ring_given = false;
    while (arg.next()) {
        const std::string& a = arg.name();
        if (parse_output_option(arg, o) || arg.flag("--tap", nullptr, o.tap) || filter.take(arg)) {
            continue;
        }
        if (arg.is("-h", "--help")) {
            cmd.what = cli_command::help;
            return cmd;
        } else if (arg.is("-D", "--list-interfaces")) {
            // As tcpdump -D: list and exit, whatever else is on the line.
            arg.flag();
            cmd.what = cli_command::list_interfaces;
            return cmd;
        } else if (arg.is("--version")) {
            cmd.what = cli_command::version;
            return cmd;
        } else if (arg.is("-B", "--buffer-size")) {
            o.buffer_kib = parse_uint(a, arg.value(), 1024, 4u << 20);
            buffer_given = true;
        } else if (arg.is("--ring-size")) {
            o.ring_bytes = parse_ring_size(a, arg.value());
            ring_given = true;
        } else if (arg.is("--queues")) {
            o.queues = parse_queue_list(arg.value());
        } else if (arg.is("--xdp-mode")) {
            o.mode = parse_choice(a, arg.value(), xdp_modes);
        } else if (arg.is("--bind")) {
            o.bind = parse_choice(a, arg.value(), bind_modes);
        } else {
            arg.unknown("option ");
        }
    }
    o.filter = filter.finish();
    if (filter.dump) {
        // As tcpdump -d: show the compiled program and exit; nothing to capture.
        cmd.what = cli_command::dump_filter;
        return cmd;
    }
    check_capture(o, buffer_given, ring_given);
    return cmd;
}

}  // namespace xcap
