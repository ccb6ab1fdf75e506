#include "bpf/xcap_abi.h"
#include "cli/args.h"
#include "cli/subcommands.h"

namespace xcap {
namespace {

constexpr std::string_view synopsis =
    "xcap trace -i INTERFACE -w FILE [--program NAME|ID] [--at entry|exit|entry,exit]\n"
    "     [--ring-size SIZE] [-c COUNT] [-s SNAPLEN] [--duration SECONDS] [--stats SECONDS]\n"
    "     [-C SIZE] [-G SECONDS] [-W FILES] [-z COMMAND] [-U] [--format pcap|pcapng]\n"
    "     [--micro] [-q] [-v] [-Z USER] [-F FILE | EXPRESSION]\n"
    "xcap trace --hook BPFFS_PATH -w FILE [-i INTERFACE] [--force] [other output options]\n"
    "     [-F FILE | EXPRESSION]\n"
    "xcap trace -d [-s SNAPLEN] EXPRESSION";

constexpr std::string_view description =
    "Records every packet the XDP program attached to INTERFACE sees, as it\n"
    "receives it (entry) and as it leaves it (exit, with the XDP action it\n"
    "returned), without detaching, replacing or reloading it. fentry and fexit\n"
    "programs are attached to it (to each program behind a libxdp dispatcher,\n"
    "or the one --program names); the records travel through a BPF ring\n"
    "buffer to the same writer as a capture. Writes pcapng unless --format or\n"
    "a name ending in .pcap says pcap: per packet epb_verdict (the action, at\n"
    "exit), epb_queue, epb_packetid (the same for a packet's entry and exit),\n"
    "inbound flags and a comment \"entry NAME\" or \"exit NAME\".\n"
    "\n"
    "EXPRESSION (or -F FILE) is a tcpdump filter, as for a capture: only the\n"
    "packets it matches are recorded, at entry and exit both (it is tested\n"
    "where the packet is first seen: at entry, or at exit with --at exit; with\n"
    "--hook, on the packet as the program left it). It sees what a record\n"
    "would hold (the first -s bytes; `len` is the whole length), so\n"
    "tcpdump -r FILE EXPRESSION selects every record. The recorders interpret\n"
    "libpcap's classic BPF program themselves; the summary says how many\n"
    "packets did not match. A bad expression exits 2 with nothing loaded.\n"
    "\n"
    "fentry/fexit need a kernel that allows BPF tracing programs on XDP\n"
    "programs (BTF, CAP_BPF, CAP_PERFMON); where the kernel refuses them xcap\n"
    "says so and exits 7, with nothing loaded.\n"
    "\n"
    "--hook PATH works without fentry, for programs built in the manner of\n"
    "cloudflare/xdpcap: they end with a tail call into a PROG_ARRAY pinned in\n"
    "bpffs (PATH), indexed by their action. xcap puts a recording program into\n"
    "each slot (each records the packet with its action and returns that\n"
    "action) and empties the slots when it exits. If xcap is killed (kill -9)\n"
    "a guardian process empties them; if that is killed too, the next\n"
    "xcap trace --hook on PATH empties what was left.";

constexpr std::string_view exit_status =
    "As for a capture; also: 3 when --program names none of INTERFACE's XDP\n"
    "programs (with no program at all and no --program there is nothing to\n"
    "trace: xcap says so and captures as --tap does); 6 when a hook slot holds\n"
    "another program (see --force) or another xcap traces the hook; 7 when\n"
    "the kernel refuses the fentry/fexit programs.";

constexpr std::string_view examples =
    "xcap trace -i eth0 -w trace.pcapng\n"
    "xcap trace -i eth0 -w - --at exit | tshark -r - -T fields -e frame.verdict.ebpf_xdp\n"
    "xcap trace -i eth0 --program xdp_lb -c 1000 -w lb.pcapng\n"
    "xcap trace --hook /sys/fs/bpf/xdpcap_hook -w hook.pcapng";

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

uint64_t parse_trace_ring(word option, word value) {
    const uint64_t bytes = parse_size(option, value, 1024, ring_min, trace_ring_max);
    if ((bytes & (bytes - 1)) != 0) {
        usage_error(option, value, "must be a power of two from 4k to 2g (e.g. 8m)");
    }
    return bytes;
}

namespace trace_option {

const option program{
    "", "--program", "NAME|ID",
    "Trace only this program of several behind a libxdp dispatcher (by\n"
    "id, kernel name or function name). Default: every one of them.",
    [](parse_state& st, word o, word v) { st.cmd.trace.program = not_empty(o, v, "needs a program name or id"); }};

const option at{
    "", "--at", "entry|exit|entry,exit",
    "Where to record each packet; default both.",
    [](parse_state& st, word o, word v) {
        parse_at(o, v, st.cmd.trace);
        st.at_given = true;
    }};

const option hook{
    "", "--hook", "PATH",
    "Trace through an xdpcap hook map pinned at PATH instead of fentry/fexit.",
    [](parse_state& st, word o, word v) {
        st.cmd.trace.hook = not_empty(o, v, "needs the bpffs path of an xdpcap hook map");
    }};

const option ring_size{
    "", "--ring-size", "SIZE",
    "The BPF ring buffer's size, in KiB or with a k, m or g suffix: a power\n"
    "of two from 4k to 2g, default 8m (at most 1g where xcap captures as\n"
    "--tap does instead). A record takes its packet's length rounded up\n"
    "to 128, 512, 2048 or 16384 bytes, plus 56; when the ring is full the\n"
    "record is lost and counted (per CPU) in the summary.",
    [](parse_state& st, word o, word v) { st.cmd.trace.ring_bytes = parse_trace_ring(o, v); }};

const option help{"-h", "--help", "", "Show this text.", answer_with<cli_command::trace_help>};

}  // namespace trace_option

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

const command_doc& trace_doc() {
    namespace shared = shared_option;
    static const option options[] = {
        with_help(shared::interface, "INTERFACE",
                  "The interface whose XDP program to trace (with --hook: only names the\n"
                  "interface in the file)."),
        trace_option::program,
        trace_option::at,
        trace_option::hook,
        trace_option::ring_size,
        with_help(shared::force, "With --hook: take slots that hold another program (not put back)."),
        with_help(shared::filter_file, "Read the filter expression from FILE (line breaks count as spaces)."),
        with_help(shared::dump_filter,
                  "Print the classic BPF program the expression compiles to (with the\n"
                  "trace's snaplen), as tcpdump -d does, and exit."),
        with_help(shared::write,
                  "As for a capture (see xcap --help); -c counts records, -s is at most\n"
                  "16384 for trace."),
        grouped(shared::count),
        grouped(shared::snapshot_length),
        grouped(shared::duration),
        grouped(shared::stats),
        grouped(shared::rotate_size),
        grouped(shared::rotate_seconds),
        grouped(shared::max_files),
        grouped(shared::post_rotate),
        grouped(shared::packet_buffered),
        grouped(shared::buffer_len),
        grouped(shared::format),
        grouped(shared::micro),
        grouped(shared::no_promiscuous_mode),
        grouped(shared::quiet),
        grouped(shared::verbose),
        grouped(shared::relinquish_privileges),
        trace_option::help,
    };
    static const command_doc doc{"xcap trace", "trace",
                                 "record what an XDP program already on an interface does to each packet",
                                 synopsis, description, options, exit_status, examples, true};
    return doc;
}

cli_command parse_trace_command(const std::vector<std::string>& args) {
    parse_state st(cli_command::run_trace);
    // -d compiles with the trace's snaplen: at most what a record holds.
    if (!parse_filtered_command(trace_doc(), args, st, XCAP_TRACE_MAX_CAP)) {
        check_trace(st.cmd.trace, st.at_given);
    }
    return std::move(st.cmd);
}

capture_options tap_capture_for(const trace_options& o) {
    if (o.ring_bytes > tap_ring_max) {
        throw failure(failure_kind::usage,
                      "--ring-size " + size_text(o.ring_bytes) + ": " + o.capture.interface +
                          " has no XDP program to trace, and capturing as --tap does instead takes rings of at most " +
                          size_text(tap_ring_max),
                      "choose --ring-size " + size_text(tap_ring_max) + " or less");
    }
    capture_options co = o.capture;
    co.tap = true;
    co.direction = capture_direction::in;  // what reaches XDP, as a trace would see it
    co.ring_bytes = o.ring_bytes;
    co.format = output_format(co.format, co.output_path, file_format::pcapng);
    return co;
}

}  // namespace xcap
