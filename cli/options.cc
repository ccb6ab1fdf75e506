#include "cli/options.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "common/error.h"
#include "pcap/pcap_writer.h"

namespace xcap {
namespace {

[[noreturn]] void bad(const std::string& option, const std::string& value, const std::string& why) {
    throw failure(failure_kind::usage, option + " " + value + ": " + why, "see xcap --help");
}

uint64_t parse_uint(const std::string& option, const std::string& value, uint64_t min, uint64_t max) {
    if (value.empty() || value.find_first_not_of("0123456789") != std::string::npos) {
        bad(option, "'" + value + "'", "not a whole number");
    }
    errno = 0;
    unsigned long long v = std::strtoull(value.c_str(), nullptr, 10);
    if (errno == ERANGE || v < min || v > max) {
        bad(option, value, "must be between " + std::to_string(min) + " and " + std::to_string(max));
    }
    return v;
}

double parse_seconds(const std::string& option, const std::string& value) {
    char* end = nullptr;
    errno = 0;
    double v = std::strtod(value.c_str(), &end);
    if (value.empty() || *end != '\0' || errno == ERANGE || !std::isfinite(v) || v <= 0 || v > 31'536'000) {
        bad(option, "'" + value + "'", "must be a number of seconds above 0 (and at most a year)");
    }
    return v;
}

// -C: millions of bytes as tcpdump counts them, or KiB/MiB/GiB with a k/m/g suffix.
uint64_t parse_file_size(const std::string& option, const std::string& value) {
    std::string digits = value;
    uint64_t unit = 1'000'000;
    if (!digits.empty()) {
        switch (digits.back()) {
            case 'k': case 'K': unit = 1024; break;
            case 'm': case 'M': unit = 1024 * 1024; break;
            case 'g': case 'G': unit = 1024 * 1024 * 1024; break;
            default: break;
        }
        if (unit != 1'000'000) {
            digits.pop_back();
        }
    }
    uint64_t n = parse_uint(option, digits.empty() ? value : digits, 1, (uint64_t(1) << 50) / unit);
    return n * unit;
}

// Walks argv with getopt_long's spellings: "-i eth0", "-ieth0",
// "--interface eth0" and "--interface=eth0".
class arg_walker {
public:
    arg_walker(const std::vector<std::string>& args, std::string help) : _args(args), _help(std::move(help)) {}

    // Advances to the next option; false at the end. name() is its name.
    bool next() {
        if (++_i >= _args.size()) {
            return false;
        }
        _name = _args[_i];
        _value.clear();
        _attached = false;
        if (_name.rfind("--", 0) == 0 && _name.find('=') != std::string::npos) {
            _value = _name.substr(_name.find('=') + 1);
            _name = _name.substr(0, _name.find('='));
            _attached = true;
        } else if (_name.size() > 2 && _name[0] == '-' && _name[1] != '-') {
            _value = _name.substr(2);
            _name = _name.substr(0, 2);
            _attached = true;
        }
        return true;
    }
    const std::string& name() const { return _name; }
    bool is(const char* a, const char* b = nullptr) const { return _name == a || (b && _name == b); }
    // The option's value, attached or the next word.
    std::string value() {
        if (_attached) {
            return _value;
        }
        if (_i + 1 >= _args.size()) {
            throw failure(failure_kind::usage, _name + " needs a value", _help);
        }
        return _args[++_i];
    }
    // For flags: refuses an attached value.
    void flag() const {
        if (_attached) {
            bad(_name, _value, "takes no value");
        }
    }
    [[noreturn]] void unknown(const char* what) const {
        throw failure(failure_kind::usage, std::string("unknown ") + what + "'" + _args[_i] + "'", _help);
    }

private:
    const std::vector<std::string>& _args;
    std::string _help;
    size_t _i = size_t(-1);
    std::string _name;
    std::string _value;
    bool _attached = false;
};

xdp_mode parse_xdp_mode(const std::string& option, const std::string& m) {
    if (m == "auto") {
        return xdp_mode::automatic;
    }
    if (m == "native") {
        return xdp_mode::native;
    }
    if (m == "generic") {
        return xdp_mode::generic;
    }
    bad(option, m, "must be auto, native or generic");
}

bind_mode parse_bind_mode(const std::string& option, const std::string& m) {
    if (m == "auto") {
        return bind_mode::automatic;
    }
    if (m == "zerocopy") {
        return bind_mode::zerocopy;
    }
    if (m == "copy") {
        return bind_mode::copy;
    }
    bad(option, m, "must be auto, zerocopy or copy");
}

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

std::vector<uint32_t> parse_queue_list(const std::string& text) {
    std::vector<uint32_t> queues;
    size_t pos = 0;
    if (text.empty()) {
        bad("--queues", "''", "empty list");
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
                bad("--queues", item, "range runs backwards");
            }
        }
        for (uint32_t q = lo; q <= hi; ++q) {
            if (std::find(queues.begin(), queues.end(), q) != queues.end()) {
                bad("--queues", text, "queue " + std::to_string(q) + " named twice");
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

cli_command parse_replay(const std::vector<std::string>& args);

cli_command parse_command_line(const std::vector<std::string>& args) {
    if (!args.empty() && args[0] == "replay") {
        return parse_replay(std::vector<std::string>(args.begin() + 1, args.end()));
    }
    cli_command cmd;
    capture_options& o = cmd.capture;
    bool have_output = false;
    arg_walker arg(args, "see xcap --help");
    while (arg.next()) {
        const std::string& a = arg.name();
        if (a == "-h" || a == "--help") {
            cmd.what = cli_command::help;
            return cmd;
        } else if (a == "--version") {
            cmd.what = cli_command::version;
            return cmd;
        } else if (a == "-i" || a == "--interface") {
            o.interface = arg.value();
        } else if (a == "-w" || a == "--write") {
            o.output_path = arg.value();
            have_output = true;
            if (o.output_path.empty()) {
                bad(a, "''", "needs a file name, or - for standard output");
            }
        } else if (a == "-c" || a == "--count") {
            o.count = parse_uint(a, arg.value(), 1, UINT64_MAX);
        } else if (a == "-s" || a == "--snapshot-length") {
            uint64_t s = parse_uint(a, arg.value(), 0, max_snaplen);
            o.snaplen = s == 0 ? max_snaplen : uint32_t(s);
        } else if (a == "-B" || a == "--buffer-size") {
            // KiB per queue, as tcpdump's -B; rounded down to a power of two of 4 KiB frames.
            uint64_t kib = parse_uint(a, arg.value(), 1024, 4u << 20);
            uint32_t frames = 1;
            while (uint64_t(frames) * 2 * 4 <= kib) {
                frames *= 2;
            }
            o.frames_per_queue = frames;
        } else if (a == "-q" || a == "--quiet") {
            arg.flag();
            o.quiet = true;
        } else if (a == "-v" || a == "--verbose") {
            arg.flag();
            o.verbose = true;
        } else if (a == "--duration") {
            o.duration_s = parse_seconds(a, arg.value());
        } else if (a == "--stats") {
            o.stats_interval_s = parse_seconds(a, arg.value());
        } else if (a == "--queues") {
            o.queues = parse_queue_list(arg.value());
        } else if (a == "--xdp-mode") {
            o.mode = parse_xdp_mode(a, arg.value());
        } else if (a == "--bind") {
            o.bind = parse_bind_mode(a, arg.value());
        } else if (a == "-C") {
            o.rotate_bytes = parse_file_size(a, arg.value());
        } else if (a == "-G") {
            o.rotate_seconds = uint32_t(parse_uint(a, arg.value(), 1, 31'536'000));
        } else if (a == "-W") {
            o.max_files = uint32_t(parse_uint(a, arg.value(), 1, 1'000'000));
        } else if (a == "-z") {
            o.post_rotate = arg.value();
            if (o.post_rotate.empty()) {
                bad(a, "''", "needs a command");
            }
        } else if (a == "--format") {
            std::string f = arg.value();
            if (f == "pcap") {
                o.format = file_format::pcap;
            } else if (f == "pcapng") {
                o.format = file_format::pcapng;
            } else {
                bad(a, f, "must be pcap or pcapng");
            }
        } else if (a == "--force") {
            arg.flag();
            o.force = true;
        } else if (a == "--micro") {
            arg.flag();
            o.nanosecond = false;
        } else {
            arg.unknown("option ");
        }
    }
    if (o.interface.empty()) {
        throw failure(failure_kind::usage, "no interface given", "name one with -i, e.g. xcap -i eth0 -w out.pcap");
    }
    if (!have_output) {
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
    return cmd;
}

namespace {

double parse_positive(const std::string& option, const std::string& value, double max) {
    char* end = nullptr;
    errno = 0;
    double v = std::strtod(value.c_str(), &end);
    if (value.empty() || *end != '\0' || errno == ERANGE || !std::isfinite(v) || v <= 0 || v > max) {
        bad(option, "'" + value + "'", "must be a number above 0");
    }
    return v;
}

}  // namespace

cli_command parse_replay(const std::vector<std::string>& args) {
    cli_command cmd;
    cmd.what = cli_command::run_replay;
    replay_options& o = cmd.replay;
    int pacing_options = 0;
    arg_walker arg(args, "see xcap replay --help");
    while (arg.next()) {
        const std::string& a = arg.name();
        if (a == "-h" || a == "--help") {
            cmd.what = cli_command::replay_help;
            return cmd;
        } else if (a == "-i" || a == "--interface") {
            o.interface = arg.value();
        } else if (a == "-r" || a == "--read") {
            o.input = arg.value();
        } else if (a == "--queues") {
            o.queues = uint32_t(parse_uint(a, arg.value(), 1, XCAP_MAX_QUEUES));
        } else if (a == "--multiplier") {
            o.pace.mode = pace_mode::original;
            o.pace.multiplier = parse_positive(a, arg.value(), 1e6);
            ++pacing_options;
        } else if (a == "--pps") {
            o.pace.mode = pace_mode::pps;
            o.pace.pps = parse_positive(a, arg.value(), 1e9);
            ++pacing_options;
        } else if (a == "--mbps") {
            o.pace.mode = pace_mode::mbps;
            o.pace.mbps = parse_positive(a, arg.value(), 1e7);
            ++pacing_options;
        } else if (a == "--topspeed" || a == "-t") {
            arg.flag();
            o.pace.mode = pace_mode::topspeed;
            ++pacing_options;
        } else if (a == "--loop") {
            o.loops = parse_uint(a, arg.value(), 0, UINT64_MAX);
        } else if (a == "--loop-delay") {
            o.pace.loop_delay_ns = int64_t(parse_seconds(a, arg.value()) * 1e9);
        } else if (a == "--limit") {
            o.limit = parse_uint(a, arg.value(), 1, UINT64_MAX);
        } else if (a == "--duration") {
            o.duration_s = parse_seconds(a, arg.value());
        } else if (a == "--preload") {
            o.preload_bytes = int64_t(parse_uint(a, arg.value(), 0, 1u << 20)) << 20;
        } else if (a == "--xdp-mode") {
            o.attach = parse_xdp_mode(a, arg.value());
        } else if (a == "--bind") {
            o.bind = parse_bind_mode(a, arg.value());
        } else if (a == "--force") {
            arg.flag();
            o.force = true;
        } else if (a == "-q" || a == "--quiet") {
            arg.flag();
            o.quiet = true;
        } else if (a == "-v" || a == "--verbose") {
            arg.flag();
            o.verbose = true;
        } else {
            arg.unknown("replay option ");
        }
    }
    if (o.interface.empty()) {
        throw failure(failure_kind::usage, "no interface given", "name one with -i, e.g. xcap replay -i eth0 -r in.pcap");
    }
    if (o.input.empty()) {
        throw failure(failure_kind::usage, "no capture to replay", "name one with -r FILE");
    }
    if (pacing_options > 1) {
        throw failure(failure_kind::usage, "choose one of --multiplier, --pps, --mbps and --topspeed",
                          "see xcap replay --help");
    }
    return cmd;
}

const char* replay_help_text() {
    return R"(NAME
    xcap replay - send a capture out of an interface through AF_XDP

SYNOPSIS
    xcap replay -i INTERFACE -r FILE [--multiplier X | --pps N | --mbps N | --topspeed]
         [--loop N] [--loop-delay SECONDS] [--limit PACKETS] [--duration SECONDS]
         [--queues N] [--preload MB] [--bind auto|zerocopy|copy]
         [--xdp-mode auto|native|generic] [--force] [-q] [-v]

DESCRIPTION
    Sends every Ethernet frame of FILE (pcap or pcapng) out of INTERFACE,
    through AF_XDP TX sockets: zero-copy where the driver can, copy mode
    otherwise. By default with the capture's own timing, on one TX queue, in
    file order.

    The schedule is absolute: packet i is due at the start plus its own
    offset, so a late packet never delays the ones after it, and a sender
    that falls behind catches up in batches of at most 64 packets.

    The capture is loaded into the sockets' buffers first when it fits in the
    --preload budget, and streamed from the file otherwise; memory stays
    bounded either way.

    Frames larger than the interface takes (MTU + 14 bytes, + 4 with a VLAN
    tag) are skipped and counted, with one warning line; so are frames
    shorter than an Ethernet header. Frames captured with a snaplen (shorter
    in the file than on the wire) are sent as captured, and counted.

    At the end: packets and bytes sent, the achieved rate, and the send-time
    error against the schedule (p50, p99, max). On a terminal, a progress
    line updates in place.

OPTIONS
    -i, --interface INTERFACE
    -r, --read FILE
    --multiplier X
        Original timing with every gap divided by X (2 = twice as fast).
    --pps N
        N packets per second, evenly spaced.
    --mbps N
        N megabits per second of frame bytes.
    --topspeed, -t
        As fast as the interface takes them.
    --loop N
        Send the capture N times (0 = until stopped); default 1.
    --loop-delay SECONDS
        Pause between loops.
    --limit PACKETS
        Stop after sending PACKETS packets.
    --duration SECONDS
        Stop after SECONDS.
    --queues N
        Send on TX queues 0..N-1, one thread each; every packet of a flow
        (addresses, protocol, ports) leaves by the same queue, so per-flow
        order holds. Default 1: file order exactly.
    --preload MB
        Load the capture into memory first when it needs at most MB (default:
        a quarter of RAM, at most 1024); 0 streams it from the file.
    --bind auto|zerocopy|copy
        As for capture: zero-copy first by default.
    --xdp-mode auto|native|generic
        Attach a pass-through XDP program in this mode while sending, for
        drivers that only run zero-copy AF_XDP with one attached. Without it
        xcap replay attaches nothing. Refuses another program unless --force.
    -q, --quiet
        No setup lines and no progress line.
    -v, --verbose
        Show libbpf's and libxdp's own messages.

EXIT STATUS
    0 sent (also when interrupted, and for an empty capture); 2 bad option;
    3 no such interface or interface down; 4 missing privileges; 6 another
    XDP program attached (with --xdp-mode); 7 kernel or driver refused;
    8 the input is missing, unreadable, not a capture, or not Ethernet.

EXAMPLES
    xcap replay -i eth0 -r capture.pcap
    xcap replay -i eth0 -r capture.pcap --topspeed --loop 10
    xcap replay -i eth0 -r capture.pcapng --pps 100000 --queues 2
)";
}

const char* help_text() {
    return R"(NAME
    xcap - capture packets at line rate with AF_XDP

SYNOPSIS
    xcap replay ...   (see xcap replay --help)
    xcap -i INTERFACE -w FILE [-c COUNT] [-s SNAPLEN] [-q] [--duration SECONDS]
         [--stats SECONDS] [--queues LIST] [--xdp-mode auto|native|generic]
         [--bind auto|zerocopy|copy] [--force] [--micro] [-B KIB] [-v]
         [--format pcap|pcapng] [-C SIZE] [-G SECONDS] [-W FILES] [-z COMMAND]

DESCRIPTION
    xcap attaches a small XDP program to INTERFACE that stamps every packet
    with its arrival time and redirects it to an AF_XDP socket bound to its
    RX queue. One pinned thread per queue drains its socket; a writer thread
    merges the queues in time order and writes a pcap file with nanosecond
    timestamps, which tcpdump, tshark and Wireshark read.

    Packets redirected to xcap do not reach the kernel's network stack while
    xcap runs: xcap is meant for capture ports, mirrors and test beds.

    The XDP program is attached through a bpf_link, so the kernel removes it
    when xcap exits for any reason, even SIGKILL.

    On SIGINT or SIGTERM xcap stops receiving, writes out every packet the
    sockets had delivered, detaches and prints a summary on standard error:
    packets captured and packets dropped, by reason (the six XDP_STATISTICS
    counters of the sockets, hand-off ring full, write errors).

OPTIONS
    -i, --interface INTERFACE
        Capture on INTERFACE (all of its RX queues unless --queues).
    -w, --write FILE
        Write the capture to FILE; '-' writes to standard output and flushes
        whenever the rings run empty, so `xcap -i eth0 -w - | tcpdump -r -`
        shows packets as they arrive.
    --format pcap|pcapng
        The file format. By default a name ending in .pcapng gets pcapng and
        anything else classic pcap. pcapng records, per packet, the RX queue
        (epb_queue), a packet id (epb_packetid), the packets the queue dropped
        just before it (epb_dropcount) and the XDP action (epb_verdict), and
        ends each file with the interface's received and dropped counts.
    -C SIZE
        Before writing a packet that would make the file larger than SIZE,
        close it and start the next one: FILE, FILE1, FILE2, ... SIZE is in
        millions of bytes, or KiB, MiB, GiB with a k, m or g suffix. No file
        exceeds SIZE (unless one packet alone does).
    -G SECONDS
        Start a new file every SECONDS, named by putting FILE through
        strftime(3) (e.g. -w 'cap-%H%M%S.pcap'); without a % pattern each new
        file replaces the last. Periods without packets make no file.
    -W FILES
        With -C: keep a ring of FILES files (FILE0, FILE1, ...), overwriting
        the oldest. With -G: stop (exit 0) after FILES files.
    -z COMMAND
        Run `COMMAND FILE` (through sh) on every finished file, the last one
        included, e.g. -z gzip. xcap waits for them before it exits.
    -c, --count COUNT
        Stop after writing COUNT packets.
    -s, --snapshot-length SNAPLEN
        Store at most SNAPLEN bytes of each packet (1-262144; 0 means 262144,
        the default). The original length is kept in each record.
    -q, --quiet
        Do not print the per-queue setup lines.
    --duration SECONDS
        Stop after SECONDS (fractions allowed).
    --stats SECONDS
        Print a line on standard error every SECONDS: packet and bit rate,
        packets captured, drops by reason.
    --queues LIST
        Capture only these RX queues: a comma-separated list of numbers and
        ranges, e.g. 0,2-3.
    --xdp-mode auto|native|generic
        Where the XDP program runs: native (in the driver) or generic (after
        the driver builds an skb). auto, the default, tries native first.
    --bind auto|zerocopy|copy
        How the sockets bind: zero-copy (the driver DMAs into xcap's buffers;
        i40e, ice, mlx5 and others) or copy. auto, the default, tries
        zero-copy first. zerocopy fails where the driver cannot do it.
    --force
        Replace an XDP program that is already attached to INTERFACE. Without
        it, xcap refuses and names the program.
    --micro
        Write microsecond timestamps (magic a1b2c3d4) instead of nanosecond
        ones (a1b23c4d), for old readers.
    -B, --buffer-size KIB
        Packet buffer per queue in KiB (1024-4194304, default 65536), rounded
        down to a power of two of 4 KiB frames. A larger buffer rides out
        longer stalls of the writer.
    -v, --verbose
        Show libbpf's and libxdp's own messages.
    -h, --help
        Show this text.
    --version
        Show the version.

EXIT STATUS
    0  the capture ended normally (signal, -c, --duration, or the reader of
       standard output went away)
    1  the capture failed while running (e.g. the output could not be written)
    2  bad option or value
    3  no such interface, or the interface is down
    4  not root, or a capability is missing (CAP_NET_ADMIN, CAP_BPF,
       CAP_NET_RAW, CAP_IPC_LOCK)
    5  the output cannot be written
    6  another XDP program is attached to the interface (see --force)
    7  the kernel or driver refused (zero-copy, the XDP mode, the program)

EXAMPLES
    xcap -i eth0 -w capture.pcap
    xcap -i eth0 -w - | tcpdump -n -r -
    xcap -i eth0 -c 1000000 -s 128 --stats 1 -w headers.pcap
)";
}

}  // namespace xcap
