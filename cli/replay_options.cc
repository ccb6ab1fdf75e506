#include "bpf/xcap_abi.h"
#include "cli/args.h"
#include "cli/subcommands.h"

namespace xcap {
namespace {

// The upper bounds only keep the schedule's arithmetic sane; no interface
// comes near them (1e9 pps is a 64-byte frame every nanosecond, 1e7 Mbps is
// 10 Tbit/s).
constexpr double max_multiplier = 1e6;
constexpr double max_pps = 1e9;
constexpr double max_mbps = 1e7;

void check_replay(const replay_options& o, int pacing_options) {
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
    if (o.send == send_path::live_frames) {
        // It sends as fast as one CPU can, from one thread: no schedule, no
        // queues to spread over, no socket to bind.
        const char* clash = o.pace.mode != pace_mode::topspeed ? "without --topspeed"
                            : o.queues > 1                       ? "with --queues"
                            : o.attach                           ? "with --xdp-mode"
                            : o.bind != bind_mode::automatic     ? "with --bind"
                            : o.input == "-"                     ? "reading standard input"
                            : o.pace.loop_delay_ns > 0           ? "with --loop-delay"
                                                                 : nullptr;
        if (clash) {
            throw failure(failure_kind::usage, std::string("--xdp-tx cannot be used ") + clash,
                          "--xdp-tx sends the whole file as fast as it can (add --topspeed), from one CPU, out of "
                          "one queue, from a file it loads first, with no pause between loops");
        }
    }
}

}  // namespace

cli_command parse_replay_command(const std::vector<std::string>& args) {
    cli_command cmd;
    cmd.what = cli_command::run_replay;
    replay_options& o = cmd.replay;
    int pacing_options = 0;
    arg_walker arg(args, "see xcap replay --help");
    while (arg.next()) {
        const std::string& a = arg.name();
        if (arg.flag("--force", nullptr, o.force) || arg.flag("-q", "--quiet", o.quiet) ||
            arg.flag("-v", "--verbose", o.verbose)) {
            continue;
        }
        if (arg.is("--xdp-tx") || arg.is("--no-xdp-tx")) {
            arg.flag();
            const send_path want = a == "--xdp-tx" ? send_path::live_frames : send_path::socket;
            if (o.send != send_path::automatic && o.send != want) {
                throw failure(failure_kind::usage, "--xdp-tx and --no-xdp-tx both given", "choose one");
            }
            o.send = want;
            continue;
        }
        if (arg.is("-h", "--help")) {
            cmd.what = cli_command::replay_help;
            return cmd;
        } else if (arg.is("-i", "--interface")) {
            o.interface = arg.value();
        } else if (arg.is("-r", "--read")) {
            o.input = arg.value();
        } else if (arg.is("--queues")) {
            o.queues = uint32_t(parse_uint(a, arg.value(), 1, XCAP_MAX_QUEUES));
        } else if (arg.is("--multiplier")) {
            o.pace.mode = pace_mode::original;
            o.pace.multiplier = parse_positive(a, arg.value(), max_multiplier);
            ++pacing_options;
        } else if (arg.is("--pps")) {
            o.pace.mode = pace_mode::pps;
            o.pace.pps = parse_positive(a, arg.value(), max_pps, "packets per second");
            ++pacing_options;
        } else if (arg.is("--mbps")) {
            o.pace.mode = pace_mode::mbps;
            o.pace.mbps = parse_positive(a, arg.value(), max_mbps, "Mbps");
            ++pacing_options;
        } else if (arg.is("--topspeed", "-t")) {
            arg.flag();
            o.pace.mode = pace_mode::topspeed;
            ++pacing_options;
        } else if (arg.is("--loop")) {
            o.loops = parse_uint(a, arg.value(), 0, UINT64_MAX);
        } else if (arg.is("--loop-delay")) {
            o.pace.loop_delay_ns = int64_t(parse_seconds(a, arg.value()) * 1e9);
        } else if (arg.is("--limit")) {
            o.limit = parse_uint(a, arg.value(), 1, UINT64_MAX);
        } else if (arg.is("--duration")) {
            o.duration_s = parse_seconds(a, arg.value());
        } else if (arg.is("--preload")) {
            o.preload_bytes = int64_t(parse_uint(a, arg.value(), 0, 1u << 20)) << 20;
        } else if (arg.is("--xdp-mode")) {
            o.attach = parse_choice(a, arg.value(), xdp_modes);
        } else if (arg.is("--bind")) {
            o.bind = parse_choice(a, arg.value(), bind_modes);
        } else {
            arg.unknown("replay option ");
        }
    }
    check_replay(o, pacing_options);
    return cmd;
}

}  // namespace xcap
