#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <sstream>

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

}  // namespace

namespace shared_option {

const option interface{
    "-i", "--interface", "INTERFACE[,INTERFACE...]",
    "Capture on INTERFACE (all of its RX queues unless --queues). Several\n"
    "(repeat -i, or a comma-separated list) need pcapng; --queues,\n"
    "--xdp-mode and --force apply to each.",
    [](parse_state& st, word o, word v) { add_interfaces(*st.output, o, v); }};

const option write{
    "-w", "--write", "FILE",
    "Write the capture to FILE; '-' writes to standard output. Standard\n"
    "output, FIFOs and other non-regular files are flushed after every\n"
    "batch and whenever the rings run empty, so `xcap -i eth0 -w - |\n"
    "tcpdump -r -` shows packets as they arrive.",
    [](parse_state& st, word o, word v) {
        st.output->output_path = not_empty(o, v, "needs a file name, or - for standard output");
    }};

const option packet_buffered{
    "-U", "--packet-buffered", "",
    "Flush regular files after every batch too. Without -U a regular file\n"
    "is written in large pieces, but nothing waits in the buffer for more\n"
    "than a quarter of a second once the capture goes idle, so a crash\n"
    "(kill -9, the OOM killer) loses at most what arrived in the last\n"
    "half second.",
    [](parse_state& st, word, word) { st.output->packet_buffered = true; }};

const option format{
    "", "--format", "pcap|pcapng",
    "The file format. By default a name ending in .pcapng gets pcapng and\n"
    "anything else classic pcap. pcapng records, per packet, the RX queue\n"
    "(epb_queue), a packet id (epb_packetid), the packets the queue dropped\n"
    "just before it (epb_dropcount) and the XDP action (epb_verdict), and\n"
    "ends each file with the interface's received and dropped counts.",
    [](parse_state& st, word o, word v) { st.output->format = parse_choice(o, v, file_formats); }};

const option rotate_size{
    "-C", "", "SIZE",
    "Before writing a packet that would make the file larger than SIZE,\n"
    "close it and start the next one: FILE, FILE1, FILE2, ... SIZE is in\n"
    "millions of bytes, or KiB, MiB, GiB with a k, m or g suffix. No file\n"
    "exceeds SIZE (unless one packet alone does).",
    [](parse_state& st, word o, word v) {
        st.output->rotate_bytes = parse_size(o, v, 1'000'000, uint64_t(1) << 10, uint64_t(1) << 50);
    }};

const option rotate_seconds{
    "-G", "", "SECONDS",
    "Start a new file every SECONDS, named by putting FILE through\n"
    "strftime(3) (e.g. -w 'cap-%H%M%S.pcap'); without a % pattern each new\n"
    "file replaces the last. Periods without packets make no file.",
    [](parse_state& st, word o, word v) { st.output->rotate_seconds = uint32_t(parse_uint(o, v, 1, 31'536'000)); }};

const option max_files{
    "-W", "", "FILES",
    "With -C: keep a ring of FILES files (FILE0, FILE1, ...), overwriting\n"
    "the oldest. With -G: stop (exit 0) after FILES files.",
    [](parse_state& st, word o, word v) { st.output->max_files = uint32_t(parse_uint(o, v, 1, 1'000'000)); }};

const option post_rotate{
    "-z", "", "COMMAND",
    "Run `COMMAND FILE` (through sh) on every finished file, the last one\n"
    "included, e.g. -z gzip. A command that fails is reported with its\n"
    "file and exit status. xcap waits for them before it exits; a second\n"
    "Ctrl-C ends the wait (the commands go on, and are named).",
    [](parse_state& st, word o, word v) { st.output->post_rotate = not_empty(o, v, "needs a command"); }};

const option relinquish_privileges{
    "-Z", "--relinquish-privileges", "USER",
    "Once set up (programs attached, sockets bound, the first file open),\n"
    "switch to USER (its groups, gid and uid) and drop every capability, as\n"
    "tcpdump -Z does: rotated files and -z commands then run as USER, and\n"
    "the first file is made USER's. Detaching needs no privilege (the\n"
    "kernel removes a bpf_link when its descriptor closes), so nothing is\n"
    "left attached however xcap ends. Default: as root, the user xcap if it\n"
    "exists, else stay root; -Z root stays root. Without root (file\n"
    "capabilities) xcap drops its capabilities once set up anyway; -Z then\n"
    "needs cap_setuid and cap_setgid. A kernel that refuses bpf() without\n"
    "CAP_BPF (before Linux 6.5, with kernel.unprivileged_bpf_disabled)\n"
    "refuses -Z (exit 7), since xcap reads its counters through bpf().",
    [](parse_state& st, word o, word v) { st.output->run_as = not_empty(o, v, "needs a user name"); }};

const option buffer_len{
    "", "--buffer-len", "SIZE",
    "Memory between the capture and a disk, as n2disk's --buffer-len: in\n"
    "KiB or with a k, m or g suffix (default 256m, at least 8m;\n"
    "0 = none). A regular file on a disk is written with direct I/O in\n"
    "4 MiB blocks by a thread of its own, so the capture never waits for\n"
    "the disk, and a burst faster than the disk fills this memory first;\n"
    "when it is full too, packets are dropped and counted (buffer_full).\n"
    "tmpfs, pipes, standard output and file systems without O_DIRECT are\n"
    "written as before (-v says which).",
    [](parse_state& st, word o, word v) {
        st.output->disk_buffer = v == "0" ? 0 : parse_size(o, v, 1024, uint64_t(8) << 20, uint64_t(64) << 30);
    }};

const option filter_file{
    "-F", "", "FILE",
    "Read the filter expression from FILE (line breaks count as spaces).\n"
    "FILE must be a regular file or a FIFO (exit 2 otherwise).",
    [](parse_state& st, word, word v) { st.filter.file = v; }};

const option dump_filter{
    "-d", "", "",
    "Print the classic BPF program the expression compiles to, as\n"
    "tcpdump -d does, and exit.",
    [](parse_state& st, word, word) { st.filter.dump = true; }};

const option count{
    "-c", "--count", "COUNT",
    "Stop after writing COUNT packets.",
    [](parse_state& st, word o, word v) { st.output->count = parse_uint(o, v, 1, UINT64_MAX); }};

const option snapshot_length{
    "-s", "--snapshot-length", "SNAPLEN",
    "Store at most SNAPLEN bytes of each packet (1-262144; 0 means 262144,\n"
    "the default). The original length is kept in each record.",
    [](parse_state& st, word o, word v) {
        const uint64_t s = parse_uint(o, v, 0, max_snaplen);
        st.output->snaplen = s == 0 ? max_snaplen : uint32_t(s);
    }};

const option quiet{
    "-q", "--quiet", "",
    "Do not print the setup lines (attaching, per-queue binding). The\n"
    "--stats lines and the summary still print.",
    [](parse_state& st, word, word) { st.output->quiet = true; }};

const option duration{
    "", "--duration", "SECONDS",
    "Stop after SECONDS (fractions allowed).",
    [](parse_state& st, word o, word v) { st.output->duration_s = parse_seconds(o, v); }};

const option stats{
    "", "--stats", "SECONDS",
    "Print a line on standard error every SECONDS: packet and bit rate,\n"
    "packets captured, drops by reason.",
    [](parse_state& st, word o, word v) { st.output->stats_interval_s = parse_seconds(o, v); }};

const option force{
    "", "--force", "",
    "Replace an XDP program that is already attached to INTERFACE. Without\n"
    "it, xcap refuses and names the program.",
    [](parse_state& st, word, word) { st.output->force = true; }};

const option no_promiscuous_mode{
    "-p", "--no-promiscuous-mode", "",
    "Leave INTERFACE out of promiscuous mode. By default xcap puts each\n"
    "interface in promiscuous mode while it runs, as tcpdump does, so a\n"
    "NIC on a mirror port or a tap hands over frames addressed to other\n"
    "hosts too. The kernel takes it back when xcap exits, however it\n"
    "exits (it is held by a socket, not by the interface's flag).",
    [](parse_state& st, word, word) { st.output->promiscuous = false; }};

const option micro{
    "", "--micro", "",
    "Write microsecond timestamps (magic a1b2c3d4) instead of nanosecond\n"
    "ones (a1b23c4d), for old readers.",
    [](parse_state& st, word, word) { st.output->nanosecond = false; }};

const option verbose{
    "-v", "--verbose", "",
    "Show libbpf's and libxdp's own messages.",
    [](parse_state& st, word, word) { st.output->verbose = true; }};

}  // namespace shared_option

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

}  // namespace xcap
