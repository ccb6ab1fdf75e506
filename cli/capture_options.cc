#include <algorithm>

#include "bpf/xcap_abi.h"
#include "cli/args.h"
#include "cli/subcommands.h"
#include "pcap/pcap_writer.h"

namespace xcap {
namespace {

constexpr std::string_view synopsis =
    "xcap replay ...   (see xcap replay --help)\n"
    "xcap trace ...    (see xcap trace --help)\n"
    "xcap -i INTERFACE [-i INTERFACE ...] -w FILE [--tap [--ring-size SIZE] [-Q in|out|inout]]\n"
    "     [-c COUNT] [-s SNAPLEN] [-q] [--duration SECONDS]\n"
    "     [--stats SECONDS] [--queues LIST] [--xdp-mode auto|native|generic]\n"
    "     [--bind auto|zerocopy|copy] [--force] [-p] [--micro] [-B SIZE] [-v]\n"
    "     [-Z USER]\n"
    "     [--format pcap|pcapng] [-C SIZE] [-G SECONDS] [-W FILES] [-z COMMAND] [-U]\n"
    "     [-j host|adapter_unsynced] [-F FILE | EXPRESSION]\n"
    "xcap -J -i INTERFACE\n"
    "xcap -d EXPRESSION\n"
    "xcap -D";

constexpr std::string_view description =
    "xcap attaches a small XDP program to INTERFACE that stamps every packet\n"
    "with its arrival time and redirects it to an AF_XDP socket bound to its\n"
    "RX queue. One capture thread reads every queue's packets in place,\n"
    "merges the queues in time order, writes a pcap file with nanosecond\n"
    "timestamps, which tcpdump, tshark and Wireshark read, and gives each\n"
    "packet's buffer straight back to the kernel.\n"
    "\n"
    "Packets redirected to xcap do not reach the kernel's network stack while\n"
    "xcap runs: xcap is meant for capture ports, mirrors and test beds. When a\n"
    "capture interface has an IP address (other than IPv6 link-local) or\n"
    "carries the default route, xcap says so in one warning line at start.\n"
    "On a host's own interface use --tap.\n"
    "\n"
    "With --tap the XDP program instead copies each packet (up to the snaplen,\n"
    "every fragment of a multi-buffer packet included, at most 65536 bytes)\n"
    "with its arrival time, queue and length into a BPF ring buffer, one per\n"
    "CPU, and lets the packet go on to the stack. Every packet a full ring had\n"
    "no room for is counted (ring_full in the summary, --stats, and pcapng's\n"
    "epb_dropcount); the host's traffic is never held up by a slow reader.\n"
    "\n"
    "-i may be given several times, or as a comma-separated list: one pcapng\n"
    "holds every interface's packets merged in time order, each with its\n"
    "interface (one Interface Description Block per interface). Classic pcap\n"
    "cannot say which interface a packet came from and is refused (exit 2).\n"
    "\n"
    "The XDP program is attached through a bpf_link, so the kernel removes it\n"
    "when xcap exits for any reason, even SIGKILL.\n"
    "\n"
    "On SIGINT, SIGTERM or SIGHUP xcap stops receiving, writes out every\n"
    "packet the sockets had delivered, detaches and prints a summary on\n"
    "standard error: packets captured and packets dropped, by reason (the six\n"
    "XDP_STATISTICS counters of the sockets, write errors, and too_large:\n"
    "frames longer than a socket takes where the kernel has no AF_XDP\n"
    "multi-buffer; see Jumbo frames in the README). If the interface\n"
    "disappears, xcap writes out what it had and exits 3. If a write fails\n"
    "(a full disk), xcap stops at once: the file is cut back to its last whole\n"
    "packet and holds exactly the packets counted as captured (exit 1); a file\n"
    "xcap made that not even its headers could be written to is removed.\n"
    "\n"
    "EXPRESSION is a tcpdump filter (pcap-filter(7)), as tcpdump takes it:\n"
    "the trailing words, or -F FILE. libpcap compiles it, and xcap translates\n"
    "the classic BPF into eBPF that runs in the XDP program before anything\n"
    "else: a packet that does not match is never copied and goes on to the\n"
    "network stack as if xcap were not there. The summary counts both. A\n"
    "filter too long for one XDP program (its jumps would span more than\n"
    "32767 eBPF instructions) runs on the capture thread instead, with a\n"
    "warning: every packet is then copied to xcap (and, without --tap, taken\n"
    "from the stack), as tcpdump filters in user space when the kernel\n"
    "refuses its filter.\n"
    "\n"
    "Sizes (-B, -C, --ring-size) take a k, m or g suffix for KiB, MiB or GiB\n"
    "everywhere in xcap; a bare number is in the unit the option names.\n"
    "\n"
    "Interfaces that carry IP without an Ethernet header (tun, ipip, gre,\n"
    "wireguard) are written with link type RAW.";

constexpr std::string_view exit_status =
    "0  the capture ended normally (signal, -c, --duration, or the reader of\n"
    "   standard output went away)\n"
    "1  the capture failed while running (e.g. the output could not be written)\n"
    "2  bad option or value\n"
    "3  no such interface, or the interface is down (at start), or it\n"
    "   disappeared while capturing\n"
    "4  not root, or a capability is missing (CAP_NET_ADMIN, CAP_BPF,\n"
    "   CAP_PERFMON, CAP_NET_RAW, CAP_IPC_LOCK; --tap: CAP_NET_ADMIN, CAP_BPF,\n"
    "   and CAP_NET_RAW unless -p), or -Z needs CAP_SETUID and CAP_SETGID\n"
    "5  the output cannot be written\n"
    "6  another XDP program is attached to the interface (see --force)\n"
    "7  the kernel or driver refused (zero-copy, the XDP mode, the program,\n"
    "   a link type xcap cannot label)";

constexpr std::string_view examples =
    "xcap -i eth0 -w capture.pcap\n"
    "xcap -i eth0 -w - | tcpdump -n -r -\n"
    "xcap -i eth0 -c 1000000 -s 128 --stats 1 -w headers.pcap\n"
    "xcap -i eth0 -w web.pcap 'tcp port 443 or udp port 443'\n"
    "xcap -i eth0 -w - 'not port 22' | tcpdump -n -r -\n"
    "xcap -i eth0 --tap -w host.pcapng\n"
    "xcap -i eth0 --tap -w - 'port 53' | tcpdump -l -n -r -\n"
    "xcap -i eth1 -i eth2 -w both.pcapng\n"
    "xcap -D";

namespace capture_option {

const option tap{
    "", "--tap", "",
    "Copy packets through BPF ring buffers and let every one go on to the\n"
    "network stack, instead of taking them (AF_XDP redirect). For a\n"
    "host's own interfaces. --queues, --bind and -B do not apply.",
    [](parse_state& st, word, word) { st.cmd.capture.tap = true; }};

constexpr choice<capture_direction> directions[] = {
    {"in", capture_direction::in}, {"out", capture_direction::out}, {"inout", capture_direction::inout}};

const option direction{
    "-Q", "--direction", "in|out|inout",
    "As tcpdump's -Q: received, sent or both (default with --tap; sent ones\n"
    "through tcx, Linux 6.6+). Without --tap: received packets only.",
    [](parse_state& st, word o, word v) { st.cmd.capture.direction = parse_choice(o, v, directions); }};

constexpr choice<bool> time_stamp_types[] = {{"host", false}, {"adapter_unsynced", true}};

const option list_time_stamp_types{
    "-J", "--list-time-stamp-types", "",
    "List the -i interface's time stamp types, as tcpdump -J: host, and\n"
    "adapter_unsynced where the driver gives XDP receive time stamps.",
    [](parse_state& st, word, word) { st.cmd.capture.list_time_stamp_types = true; }};

const option time_stamp_type{
    "-j", "--time-stamp-type", "host|adapter_unsynced",
    "The clock (see -J); with adapter_unsynced a packet without the NIC's stamp\n"
    "gets the kernel's time, counted. Refused (exit 7) where the driver has none.",
    [](parse_state& st, word o, word v) { st.cmd.capture.nic_time = parse_choice(o, v, time_stamp_types); }};

const option ring_size{
    "", "--ring-size", "SIZE",
    "With --tap: ring buffer per CPU, in KiB or with a k, m or g suffix\n"
    "(4k to 1g; default 16m), rounded up to a power of two. Sized for\n"
    "bursts: a 16 MiB ring holds about 10000 full-size frames.",
    [](parse_state& st, word o, word v) {
        st.cmd.capture.ring_bytes = parse_size(o, v, 1024, ring_min, tap_ring_max);
        st.ring_given = true;
    }};

const option list_interfaces{
    "-D", "--list-interfaces", "",
    "List the interfaces of this network namespace, as tcpdump -D does\n"
    "(numbered in ifindex order; the alias, if set, in parentheses; the\n"
    "flags in brackets), each followed by indented lines:\n"
    "    driver: NAME VERSION[, firmware F][, bus B]   (ethtool)\n"
    "    queues: N RX, N TX; MTU N\n"
    "    XDP modes: native, generic | generic only     (native where\n"
    "        the driver reports the basic XDP feature)\n"
    "    XDP features: basic, redirect, ndo-xmit, xsk-zerocopy,\n"
    "        hw-offload, rx-sg, ndo-xmit-sg (as the kernel reports them)\n"
    "    XDP RX metadata: timestamp, hash, vlan-tag\n"
    "    AF_XDP zero-copy: yes (xdp-zc-max-segs N) | no (copy mode only)\n"
    "    AF_XDP TX metadata: tx-timestamp, tx-checksum, ...\n"
    "    XDP program: none | 'NAME' (id N, MODE mode[, bpf_link ...])\n"
    "The XDP lines come from the kernel's netdev netlink family (Linux\n"
    "6.3 and later); an older kernel gets \"XDP features: not reported by\n"
    "this kernel\" instead. Needs no privileges (without them a program's\n"
    "name shows as '?'). Other options on the line are ignored, as\n"
    "tcpdump ignores them. Exit 0; 1 when the kernel cannot be asked, 4\n"
    "when a security policy denies it.",
    // As tcpdump -D: list and exit, whatever else is on the line.
    answer_with<cli_command::list_interfaces>};

const option queues{
    "", "--queues", "LIST",
    "Capture only these RX queues: a comma-separated list of numbers and\n"
    "ranges, e.g. 0,2-3.",
    [](parse_state& st, word, word v) { st.cmd.capture.queues = parse_queue_list(v); }};

const option xdp_mode{
    "", "--xdp-mode", "auto|native|generic",
    "Where the XDP program runs: native (in the driver) or generic (after\n"
    "the driver builds an skb). auto, the default, tries native first.",
    [](parse_state& st, word o, word v) { st.cmd.capture.mode = parse_choice(o, v, xdp_modes); }};

const option buffer_size{
    "-B", "--buffer-size", "SIZE",
    "Packet buffer per queue, in KiB or with a k, m or g suffix (1m to 4g,\n"
    "default 64m), rounded down to a power of two of frames: 2 KiB each\n"
    "where the MTU's largest frame fits one and the kernel has AF_XDP\n"
    "multi-buffer, else 4 KiB (-v shows which). A larger buffer rides out\n"
    "longer stalls of the writer.",
    [](parse_state& st, word o, word v) {
        st.cmd.capture.buffer_kib = parse_size(o, v, 1024, uint64_t(1) << 20, uint64_t(4) << 30) >> 10;
        st.buffer_given = true;
    }};

const option bind{
    "", "--bind", "auto|zerocopy|copy",
    "How the sockets bind: zero-copy (the driver DMAs into xcap's buffers;\n"
    "i40e, ice, mlx5 and others) or copy. auto, the default, tries\n"
    "zero-copy first. zerocopy fails where the driver cannot do it.",
    [](parse_state& st, word o, word v) { st.cmd.capture.bind = parse_choice(o, v, bind_modes); }};

const option help{"-h", "--help", "", "Show this text.", answer_with<cli_command::help>};
const option version{"", "--version", "", "Show the version.", answer_with<cli_command::version>};

}  // namespace capture_option

// What no single option can check: what is required, and what goes together.
void check_capture(const capture_options& o, bool buffer_given, bool ring_given) {
    if (o.interface.empty()) {
        throw failure(failure_kind::usage, "no interface given", "name one with -i, e.g. xcap -i eth0 -w out.pcap");
    }
    if (o.interfaces.size() > 1 && !o.output_path.empty() &&
        output_format(o.format, o.output_path, file_format::pcap) == file_format::pcap) {
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
    if (!o.tap && o.direction && *o.direction != capture_direction::in) {
        throw failure(failure_kind::usage, "-Q: without --tap xcap captures received packets only",
                      "add --tap to capture sent packets too, or leave out -Q");
    }
    if (ring_given && !o.tap) {
        throw failure(failure_kind::usage, "--ring-size applies only to --tap",
                      "add --tap, or size redirect mode's buffer with -B");
    }
    check_output_options(o);
}

}  // namespace

const command_doc& capture_doc() {
    namespace shared = shared_option;
    static const option options[] = {
        shared::interface, capture_option::tap, capture_option::ring_size, capture_option::direction,
        capture_option::list_time_stamp_types, capture_option::time_stamp_type, shared::write, shared::packet_buffered,
        shared::format, shared::rotate_size, shared::rotate_seconds, shared::max_files, shared::post_rotate,
        shared::buffer_len,
        shared::filter_file, shared::dump_filter, capture_option::list_interfaces, shared::count,
        shared::snapshot_length, shared::quiet, shared::duration, shared::stats, capture_option::queues,
        capture_option::xdp_mode, capture_option::bind, shared::force, shared::no_promiscuous_mode, shared::micro,
        capture_option::buffer_size, shared::relinquish_privileges, shared::verbose, capture_option::help, capture_option::version,
    };
    static const command_doc doc{"xcap", "", "capture packets at line rate with AF_XDP", synopsis, description,
                                 options, exit_status, examples, true};
    return doc;
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

cli_command parse_capture_command(const std::vector<std::string>& args) {
    parse_state st(cli_command::run);
    if (!parse_filtered_command(capture_doc(), args, st, max_snaplen)) {
        if (st.cmd.capture.list_time_stamp_types) {
            if (st.cmd.capture.interface.empty()) {
                throw failure(failure_kind::usage, "-J lists the time stamp types of an interface: none given",
                              "name one with -i, e.g. xcap -J -i eth0");
            }
            st.cmd.what = cli_command::list_time_stamp_types;
            return std::move(st.cmd);
        }
        check_capture(st.cmd.capture, st.buffer_given, st.ring_given);
    }
    return std::move(st.cmd);
}

}  // namespace xcap
