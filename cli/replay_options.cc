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

constexpr std::string_view synopsis =
    "xcap replay -i INTERFACE -r FILE [--multiplier X | --pps N | --mbps N | --topspeed]\n"
    "     [--loop N] [--loop-delay SECONDS] [--limit PACKETS] [--duration SECONDS]\n"
    "     [--queues N] [--preload SIZE] [--bind auto|zerocopy|copy]\n"
    "     [--xdp-mode auto|native|generic] [--force] [-q] [-v]\n"
    "xcap replay -i INTERFACE -r FILE --topspeed [--xdp-tx | --no-xdp-tx] [--loop N] [--limit PACKETS]\n"
    "     [--duration SECONDS] [--preload SIZE]";

constexpr std::string_view description =
    "Sends every Ethernet frame of FILE (pcap or pcapng) out of INTERFACE,\n"
    "through AF_XDP TX sockets: zero-copy where the driver can, copy mode\n"
    "otherwise. By default with the capture's own timing, on one TX queue, in\n"
    "file order. --topspeed sends with XDP live frames instead where the\n"
    "driver transmits XDP frames (see --xdp-tx), with no socket buffer per\n"
    "packet.\n"
    "\n"
    "The schedule is absolute: packet i is due at the start plus its own\n"
    "offset, so a late packet never delays the ones after it, and a sender\n"
    "that falls behind catches up in batches of at most 64 packets.\n"
    "\n"
    "The capture is loaded into the sockets' buffers first when it fits in the\n"
    "--preload budget, and streamed from the file otherwise; memory stays\n"
    "bounded either way.\n"
    "\n"
    "Frames longer than one 4 KiB buffer go out as several descriptors where\n"
    "the kernel has AF_XDP multi-buffer (Linux 6.6+), and are skipped and\n"
    "counted where it has not. Frames larger than the interface takes (MTU +\n"
    "14 bytes, + 4 with a VLAN tag) are skipped and counted, with one warning\n"
    "line; so are frames shorter than an Ethernet header. Frames captured\n"
    "with a snaplen (shorter in the file than on the wire) are sent as\n"
    "captured, and counted.\n"
    "\n"
    "-r - reads standard input, streamed: a pipe as it arrives, once (no\n"
    "--loop), a redirected file (-r - < FILE) as FILE reads.\n"
    "\n"
    "An interface that is up without carrier drops what it is given: one\n"
    "warning line says so at the start.\n"
    "\n"
    "At the end: packets and bytes sent, the achieved rate, and the send-time\n"
    "error against the schedule (p50, p99, max); what the interface dropped\n"
    "while sending (its tx_dropped counter) is counted as dropped by it, not\n"
    "as sent. On a terminal, a progress line updates in place.";

constexpr std::string_view exit_status =
    "0 sent (also when interrupted, and for an empty capture); 2 bad option;\n"
    "3 no such interface or interface down; 4 missing privileges; 6 another\n"
    "XDP program attached (with --xdp-mode); 7 kernel or driver refused;\n"
    "8 the input is missing, unreadable, not a capture, or not Ethernet.";

constexpr std::string_view examples =
    "xcap replay -i eth0 -r capture.pcap\n"
    "xcap replay -i eth0 -r capture.pcap --topspeed --loop 10\n"
    "xcap replay -i eth0 -r capture.pcapng --pps 100000 --queues 2";

// One of --multiplier, --pps, --mbps and --topspeed: the pace, counted so
// that two of them are refused.
void pace(parse_state& st, pace_mode mode) {
    st.cmd.replay.pace.mode = mode;
    ++st.pacing_options;
}

void set_send_path(parse_state& st, word option, word) {
    replay_options& o = st.cmd.replay;
    const send_path want = option == "--xdp-tx" ? send_path::live_frames : send_path::socket;
    if (o.send != send_path::automatic && o.send != want) {
        throw failure(failure_kind::usage, "--xdp-tx and --no-xdp-tx both given", "choose one");
    }
    o.send = want;
}

const option options[] = {
    {"-i", "--interface", "INTERFACE", "The interface to send from.",
     [](parse_state& st, word, word v) { st.cmd.replay.interface = v; }},
    {"-r", "--read", "FILE", "The capture to send; - reads standard input.",
     [](parse_state& st, word, word v) { st.cmd.replay.input = v; }},
    {"", "--multiplier", "X", "Original timing with every gap divided by X (2 = twice as fast).",
     [](parse_state& st, word o, word v) {
         pace(st, pace_mode::original);
         st.cmd.replay.pace.multiplier = parse_positive(o, v, max_multiplier);
     }},
    {"", "--pps", "N", "N packets per second, evenly spaced.",
     [](parse_state& st, word o, word v) {
         pace(st, pace_mode::pps);
         st.cmd.replay.pace.pps = parse_positive(o, v, max_pps, "packets per second");
     }},
    {"", "--mbps", "N", "N megabits per second of frame bytes.",
     [](parse_state& st, word o, word v) {
         pace(st, pace_mode::mbps);
         st.cmd.replay.pace.mbps = parse_positive(o, v, max_mbps, "Mbps");
     }},
    {"-t", "--topspeed", "", "As fast as the interface takes them.",
     [](parse_state& st, word, word) { pace(st, pace_mode::topspeed); }},
    {"", "--loop", "N", "Send the capture N times (0 = until stopped); default 1.",
     [](parse_state& st, word o, word v) { st.cmd.replay.loops = parse_uint(o, v, 0, UINT64_MAX); }},
    {"", "--loop-delay", "SECONDS", "Pause between loops.",
     [](parse_state& st, word o, word v) { st.cmd.replay.pace.loop_delay_ns = int64_t(parse_seconds(o, v) * 1e9); }},
    {"", "--limit", "PACKETS", "Stop after sending PACKETS packets.",
     [](parse_state& st, word o, word v) { st.cmd.replay.limit = parse_uint(o, v, 1, UINT64_MAX); }},
    {"", "--duration", "SECONDS", "Stop after SECONDS.",
     [](parse_state& st, word o, word v) { st.cmd.replay.duration_s = parse_seconds(o, v); }},
    {"", "--queues", "N",
     "Send on TX queues 0..N-1, one thread each; every packet of a flow\n"
     "(addresses, protocol, ports) leaves by the same queue, so per-flow\n"
     "order holds. Default 1: file order exactly.",
     [](parse_state& st, word o, word v) { st.cmd.replay.queues = uint32_t(parse_uint(o, v, 1, XCAP_MAX_QUEUES)); }},
    {"", "--preload", "SIZE",
     "Load the capture into memory first when it needs at most SIZE, in\n"
     "MiB or with a k, m or g suffix (default: a quarter of RAM, at most\n"
     "1g); 0 streams it from the file.",
     [](parse_state& st, word o, word v) {
         st.cmd.replay.preload_bytes = int64_t(parse_size(o, v, uint64_t(1) << 20, 0, uint64_t(1) << 40));
     }},
    {"", "--bind", "auto|zerocopy|copy", "As for capture: zero-copy first by default.",
     [](parse_state& st, word o, word v) { st.cmd.replay.bind = parse_choice(o, v, bind_modes); }},
    {"", "--xdp-tx", "",
     "How --topspeed sends. By default it uses XDP live frames where it\n"
     "can, and an AF_XDP socket where it cannot; -v says why. Live frames:\n"
     "the whole file is loaded into a BPF map (within --preload), and a\n"
     "BPF program run by BPF_PROG_RUN (BPF_F_TEST_XDP_LIVE_FRAMES) copies\n"
     "each packet into a frame and returns XDP_TX, which hands it to the\n"
     "driver's XDP transmit: no socket buffer per packet, several times\n"
     "faster. They send one file, from one CPU, in file order, with no\n"
     "--queues, --bind, --xdp-mode, --loop-delay or standard input; frames\n"
     "up to 3,496 bytes (longer ones are skipped and counted, so xcap uses\n"
     "them only where the MTU is below 3,478); CAP_BPF and CAP_NET_ADMIN;\n"
     "and a driver that transmits XDP frames now: its xdp-features name\n"
     "ndo-xmit (Linux 6.3 and later report them; a veth has it while its\n"
     "peer has an XDP program or GRO on, some NIC drivers only while an\n"
     "XDP program is attached). xcap counts the frames handed to the\n"
     "driver; the interface's own counters say what it sent.\n"
     "--xdp-tx: live frames or a one-line refusal. --no-xdp-tx: always\n"
     "the socket.",
     set_send_path},
    {"", "--no-xdp-tx", "", "", set_send_path},
    {"", "--xdp-mode", "auto|native|generic",
     "Attach a pass-through XDP program in this mode while sending, for\n"
     "drivers that only run zero-copy AF_XDP with one attached. Without it\n"
     "xcap replay attaches nothing. Refuses another program unless --force.",
     [](parse_state& st, word o, word v) { st.cmd.replay.attach = parse_choice(o, v, xdp_modes); }},
    {"", "--force", "", "With --xdp-mode: replace an XDP program already attached to INTERFACE.",
     [](parse_state& st, word, word) { st.cmd.replay.force = true; }},
    {"-q", "--quiet", "", "No setup lines and no progress line.",
     [](parse_state& st, word, word) { st.cmd.replay.quiet = true; }},
    {"-v", "--verbose", "", "Show libbpf's and libxdp's own messages.",
     [](parse_state& st, word, word) { st.cmd.replay.verbose = true; }},
    {"-h", "--help", "", "Show this text.",
     answer_with<cli_command::replay_help>},
};

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

const command_doc& replay_doc() {
    static const command_doc doc{"xcap replay", "replay", "send a capture out of an interface through AF_XDP",
                                 synopsis, description, options, exit_status, examples, false};
    return doc;
}

cli_command parse_replay_command(const std::vector<std::string>& args) {
    parse_state st(cli_command::run_replay);
    parse_by_table(replay_doc(), args, st);
    if (!st.stop) {
        check_replay(st.cmd.replay, st.pacing_options);
    }
    return std::move(st.cmd);
}

}  // namespace xcap
