#include <gtest/gtest.h>
#include <unistd.h>

#include <set>
#include <sstream>

#include "cli/args.h"
#include "cli/option_table.h"
#include "cli/options.h"
#include "cli/subcommands.h"
#include "common/error.h"

using namespace xcap;

namespace {

cli_command parse(std::vector<std::string> args) { return parse_command_line(args); }

void expect_usage_error(std::vector<std::string> args, const std::string& needle) {
    try {
        parse(args);
        FAIL() << "no error for " << ::testing::PrintToString(args);
    } catch (const failure& e) {
        EXPECT_EQ(e.kind(), failure_kind::usage);
        EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
}

}  // namespace

TEST(Options, DefaultsMatchTcpdump) {
    auto c = parse({"-i", "eth0", "-w", "out.pcap"});
    EXPECT_EQ(c.what, cli_command::run);
    EXPECT_EQ(c.capture.interface, "eth0");
    EXPECT_EQ(c.capture.output_path, "out.pcap");
    EXPECT_EQ(c.capture.snaplen, 262144u);
    EXPECT_EQ(c.capture.count, 0u);
    EXPECT_TRUE(c.capture.nanosecond);
    EXPECT_EQ(c.capture.mode, xdp_mode::automatic);
    EXPECT_EQ(c.capture.bind, bind_mode::automatic);
    EXPECT_TRUE(c.capture.queues.empty());
}

TEST(Options, AttachedAndLongSpellings) {
    auto c = parse({"-ieth1", "-w-", "-c5", "--snapshot-length=96", "--duration=1.5", "--stats", "2", "--micro",
                    "--xdp-mode=generic", "--bind", "copy", "--force", "-q"});
    EXPECT_EQ(c.capture.interface, "eth1");
    EXPECT_EQ(c.capture.output_path, "-");
    EXPECT_EQ(c.capture.count, 5u);
    EXPECT_EQ(c.capture.snaplen, 96u);
    EXPECT_DOUBLE_EQ(c.capture.duration_s, 1.5);
    EXPECT_DOUBLE_EQ(c.capture.stats_interval_s, 2);
    EXPECT_FALSE(c.capture.nanosecond);
    EXPECT_EQ(c.capture.mode, xdp_mode::generic);
    EXPECT_EQ(c.capture.bind, bind_mode::copy);
    EXPECT_TRUE(c.capture.force);
    EXPECT_TRUE(c.capture.quiet);
    EXPECT_TRUE(c.capture.promiscuous) << "on unless -p, as in tcpdump";
    EXPECT_FALSE(parse({"-i", "e", "-w", "f", "-p"}).capture.promiscuous);
    EXPECT_FALSE(parse({"-i", "e", "-w", "f", "--no-promiscuous-mode"}).capture.promiscuous);
    EXPECT_FALSE(parse({"trace", "-i", "e", "-w", "f", "-p"}).trace.capture.promiscuous);
}

TEST(Options, SnaplenZeroMeansMaximum) {
    EXPECT_EQ(parse({"-i", "e", "-w", "f", "-s", "0"}).capture.snaplen, 262144u);
    EXPECT_EQ(parse({"-i", "e", "-w", "f", "-s", "1"}).capture.snaplen, 1u);
}

TEST(Options, OutOfRangeValuesAreRefused) {
    expect_usage_error({"-i", "e", "-w", "f", "-s", "262145"}, "-s 262145");
    expect_usage_error({"-i", "e", "-w", "f", "-c", "0"}, "-c 0");
    expect_usage_error({"-i", "e", "-w", "f", "-c", "-3"}, "not a whole number");
    expect_usage_error({"-i", "e", "-w", "f", "-c", "12x"}, "not a whole number");
    expect_usage_error({"-i", "e", "-w", "f", "-c", "99999999999999999999999"}, "must be between");
    expect_usage_error({"-i", "e", "-w", "f", "--duration", "0"}, "--duration");
    expect_usage_error({"-i", "e", "-w", "f", "--stats", "abc"}, "--stats");
    expect_usage_error({"-i", "e", "-w", "f", "--xdp-mode", "fast"}, "auto, native or generic");
    expect_usage_error({"-i", "e", "-w", "f", "--bind", "zc"}, "auto, zerocopy or copy");
    expect_usage_error({"-i", "e", "-w", "f", "-B", "10"}, "-B 10");
}

TEST(Options, MissingPiecesAreNamed) {
    expect_usage_error({"-w", "f"}, "no interface");
    expect_usage_error({"-i", "e"}, "no output");
    expect_usage_error({"-i", "e", "-w"}, "-w needs a value");
    expect_usage_error({"-i", "e", "-w", "f", "--frobnicate"}, "unknown option '--frobnicate'");
    expect_usage_error({"-i", "e", "-w", "f", "--force=yes"}, "takes no value");
}

TEST(Options, HelpAndVersion) {
    EXPECT_EQ(parse({"--help"}).what, cli_command::help);
    EXPECT_EQ(parse({"-i", "e", "-h"}).what, cli_command::help);
    EXPECT_EQ(parse({"--version"}).what, cli_command::version);
    std::string help = help_text();
    for (const char* s : {"SYNOPSIS", "EXIT STATUS", "--queues", "--xdp-mode", "--bind", "--stats", "--duration"}) {
        EXPECT_NE(help.find(s), std::string::npos) << s;
    }
}

TEST(Options, BufferSizeRoundsDownToPowerOfTwoFrames) {
    EXPECT_EQ(parse({"-i", "e", "-w", "f", "-B", "100000"}).capture.buffer_kib, 100000u);
    EXPECT_EQ(umem_frames(65536, 4096), 16384u);
    EXPECT_EQ(umem_frames(65536, 2048), 32768u) << "the same memory, twice the frames";
    EXPECT_EQ(umem_frames(100000, 4096), 16384u) << "rounded down, never more memory than asked";
    EXPECT_EQ(umem_frames(100000, 2048), 32768u);
    EXPECT_EQ(umem_frames(1024, 4096), 256u);
    EXPECT_THROW(parse({"-i", "e", "-w", "f", "-B", "1000"}), failure);
}

TEST(Options, FramesAreHalfAPageWhereTheLargestFrameFitsAndMultiBufferBacksIt) {
    EXPECT_EQ(umem_frame_size(1518, true), 2048u) << "MTU 1500 with a VLAN tag";
    EXPECT_EQ(umem_frame_size(1792, true), 2048u) << "exactly fits after the 256-byte headroom";
    EXPECT_EQ(umem_frame_size(1793, true), 4096u);
    EXPECT_EQ(umem_frame_size(9018, true), 4096u) << "jumbo: pieces of 4 KiB";
    EXPECT_EQ(umem_frame_size(1518, false), 4096u)
        << "without multi-buffer a frame is the most one packet can be: keep 3,840 bytes";
}

TEST(QueueList, NumbersAndRanges) {
    EXPECT_EQ(parse_queue_list("0"), (std::vector<uint32_t>{0}));
    EXPECT_EQ(parse_queue_list("0,2-4,7"), (std::vector<uint32_t>{0, 2, 3, 4, 7}));
    EXPECT_THROW(parse_queue_list(""), failure);
    EXPECT_THROW(parse_queue_list("1,"), failure);
    EXPECT_THROW(parse_queue_list("3-1"), failure);
    EXPECT_THROW(parse_queue_list("1,1"), failure);
    EXPECT_THROW(parse_queue_list("256"), failure);
    EXPECT_THROW(parse_queue_list("a"), failure);
}

TEST(ExitCodes, EachFailureKindHasItsOwnCode) {
    EXPECT_EQ(exit_code_for(failure_kind::usage), 2);
    EXPECT_EQ(exit_code_for(failure_kind::interface), 3);
    EXPECT_EQ(exit_code_for(failure_kind::permission), 4);
    EXPECT_EQ(exit_code_for(failure_kind::output), 5);
    EXPECT_EQ(exit_code_for(failure_kind::xdp_busy), 6);
    EXPECT_EQ(exit_code_for(failure_kind::unsupported), 7);
    EXPECT_EQ(exit_code_for(failure_kind::runtime), 1);
}

TEST(Options, RotationAsTcpdumpSpellsIt) {
    auto c = parse({"-i", "e", "-w", "x.pcap", "-C", "5", "-W", "3", "-z", "gzip -9"});
    EXPECT_EQ(c.capture.rotate_bytes, 5'000'000u);
    EXPECT_EQ(c.capture.max_files, 3u);
    EXPECT_EQ(c.capture.post_rotate, "gzip -9");
    EXPECT_EQ(parse({"-i", "e", "-w", "x", "-C", "2k"}).capture.rotate_bytes, 2048u);
    EXPECT_EQ(parse({"-i", "e", "-w", "x", "-C", "3M"}).capture.rotate_bytes, 3u << 20);
    EXPECT_EQ(parse({"-i", "e", "-w", "x", "-G", "60"}).capture.rotate_seconds, 60u);
    EXPECT_EQ(parse({"-i", "e", "-w", "x", "--format", "pcapng"}).capture.format, file_format::pcapng);
    EXPECT_FALSE(parse({"-i", "e", "-w", "x.pcapng"}).capture.format.has_value()) << "decided by the name later";
    expect_usage_error({"-i", "e", "-w", "-", "-C", "1"}, "need a file");
    expect_usage_error({"-i", "e", "-w", "x", "-W", "3"}, "-W needs -C or -G");
    expect_usage_error({"-i", "e", "-w", "x", "-C", "0"}, "-C 0");
    expect_usage_error({"-i", "e", "-w", "x", "-C", "k"}, "not a whole number");
    expect_usage_error({"-i", "e", "-w", "x", "-G", "0"}, "-G 0");
    expect_usage_error({"-i", "e", "-w", "x", "--format", "erf"}, "pcap or pcapng");
}

// How --topspeed sends: automatic unless told; the two choices exclude each other.
TEST(ReplayOptions, SendPath) {
    EXPECT_EQ(parse({"replay", "-i", "e", "-r", "f", "-t"}).replay.send, send_path::automatic);
    EXPECT_EQ(parse({"replay", "-i", "e", "-r", "f", "-t", "--xdp-tx"}).replay.send, send_path::live_frames);
    EXPECT_EQ(parse({"replay", "-i", "e", "-r", "f", "-t", "--no-xdp-tx"}).replay.send, send_path::socket);
    EXPECT_EQ(parse({"replay", "-i", "e", "-r", "f", "--pps", "5", "--no-xdp-tx"}).replay.send, send_path::socket);
    expect_usage_error({"replay", "-i", "e", "-r", "f", "-t", "--xdp-tx", "--no-xdp-tx"},
                       "--xdp-tx and --no-xdp-tx both given");
    expect_usage_error({"replay", "-i", "e", "-r", "f", "-t", "--xdp-tx", "--loop-delay", "1"},
                       "--xdp-tx cannot be used with --loop-delay");
}

TEST(ReplayOptions, PacingAsTcpreplaySpellsIt) {
    auto c = parse({"replay", "-i", "e", "-r", "in.pcap", "--mbps=250.5"});
    EXPECT_EQ(c.what, cli_command::run_replay);
    EXPECT_EQ(c.replay.pace.mode, pace_mode::mbps);
    EXPECT_DOUBLE_EQ(c.replay.pace.mbps, 250.5);
    EXPECT_EQ(parse({"replay", "-i", "e", "-r", "f", "--pps", "1e9"}).replay.pace.mode, pace_mode::pps);
    EXPECT_DOUBLE_EQ(parse({"replay", "-i", "e", "-r", "f", "--multiplier", "0.5"}).replay.pace.multiplier, 0.5);
    EXPECT_EQ(parse({"replay", "-i", "e", "-r", "f", "-t"}).replay.pace.mode, pace_mode::topspeed);
    EXPECT_EQ(parse({"replay", "--help"}).what, cli_command::replay_help);
    expect_usage_error({"replay", "-i", "e", "-r", "f", "--pps", "5", "--topspeed"}, "choose one of");
    expect_usage_error({"replay", "-r", "f"}, "no interface");
    expect_usage_error({"replay", "-i", "e"}, "no capture to replay");
}

// A number out of range is told the range, not that it is not above 0.
TEST(ReplayOptions, RateOutOfRangeNamesTheRange) {
    expect_usage_error({"replay", "-i", "e", "-r", "f", "--mbps", "1e12"},
                       "--mbps 1e12: must be above 0 and at most 10000000 Mbps");
    expect_usage_error({"replay", "-i", "e", "-r", "f", "--mbps", "0"}, "must be above 0 and at most 10000000 Mbps");
    expect_usage_error({"replay", "-i", "e", "-r", "f", "--pps", "2e9"},
                       "--pps 2e9: must be above 0 and at most 1000000000 packets per second");
    expect_usage_error({"replay", "-i", "e", "-r", "f", "--pps", "-1"}, "at most 1000000000 packets per second");
    expect_usage_error({"replay", "-i", "e", "-r", "f", "--multiplier", "1e7"},
                       "--multiplier 1e7: must be above 0 and at most 1000000");
    expect_usage_error({"replay", "-i", "e", "-r", "f", "--multiplier", "inf"}, "at most 1000000");
    expect_usage_error({"replay", "-i", "e", "-r", "f", "--mbps", "fast"}, "--mbps 'fast': not a number");
    expect_usage_error({"replay", "-i", "e", "-r", "f", "--pps", "nan"}, "not a number");
}

TEST(Options, FilterExpressionIsTheTrailingWords) {
    auto c = parse({"-i", "eth0", "-w", "x.pcap", "tcp", "port", "443", "or", "udp", "port", "443"});
    EXPECT_EQ(c.capture.filter, "tcp port 443 or udp port 443");
    // Options may come after the expression's words, as with getopt's permutation.
    c = parse({"not", "port", "22", "-i", "eth0", "-w", "-"});
    EXPECT_EQ(c.capture.filter, "not port 22");
    EXPECT_EQ(c.capture.output_path, "-");
    // After "--" every word is the expression's, even one starting with '-'.
    c = parse({"-i", "eth0", "-w", "x.pcap", "--", "ip[2:2]", ">", "-1"});
    EXPECT_EQ(c.capture.filter, "ip[2:2] > -1");
    EXPECT_EQ(parse({"-i", "eth0", "-w", "x.pcap"}).capture.filter, "");
}

TEST(Options, FilterFromAFileAndDump) {
    char tmpl[] = "/tmp/xcap-filter-XXXXXX";
    int fd = mkstemp(tmpl);
    ASSERT_GE(fd, 0);
    const std::string text = "tcp\nport 80\n";
    ASSERT_EQ(write(fd, text.data(), text.size()), ssize_t(text.size()));
    close(fd);
    auto c = parse({"-i", "eth0", "-w", "x.pcap", "-F", tmpl});
    EXPECT_EQ(c.capture.filter, "tcp port 80 ");
    expect_usage_error({"-i", "eth0", "-w", "x.pcap", "-F", tmpl, "udp"}, "both on the command line and in -F");
    unlink(tmpl);
    expect_usage_error({"-i", "eth0", "-w", "x.pcap", "-F", "/nonexistent/filter"}, "cannot read the filter file");
    // A directory opens and reads as nothing: it must not mean "no filter".
    expect_usage_error({"-i", "eth0", "-w", "x.pcap", "-F", "/tmp"}, "-F /tmp: is a directory, not a filter file");
    expect_usage_error({"-i", "eth0", "-w", "x.pcap", "-F", "/dev/null"}, "-F /dev/null: is not a regular file");
    expect_usage_error({"trace", "-i", "e", "-w", "f", "-F", "/tmp"}, "is a directory");
    // -d shows the compiled program: no interface or output needed.
    c = parse({"-d", "icmp"});
    EXPECT_EQ(c.what, cli_command::dump_filter);
    EXPECT_EQ(c.capture.filter, "icmp");
}

TEST(Options, SeveralInterfacesRepeatedOrListed) {
    auto o = parse({"-i", "a", "-i", "b,c", "-w", "x.pcapng"}).capture;
    EXPECT_EQ(o.interfaces, (std::vector<std::string>{"a", "b", "c"}));
    EXPECT_EQ(o.interface, "a");
    EXPECT_EQ(o.all_interfaces().size(), 3u);
    EXPECT_EQ(parse({"-i", "a", "-w", "x.pcap"}).capture.all_interfaces(), (std::vector<std::string>{"a"}));
    EXPECT_EQ(parse({"-i", "a,b", "-w", "x.pcap", "--format", "pcapng"}).capture.interfaces.size(), 2u);
    expect_usage_error({"-i", "a", "-i", "b", "-w", "x.pcap"}, "classic pcap cannot say which interface");
    expect_usage_error({"-i", "a,b", "-w", "-"}, "classic pcap cannot say which interface");
    expect_usage_error({"-i", "a,a", "-w", "x.pcapng"}, "interface named twice");
    expect_usage_error({"-i", "a,", "-w", "x.pcapng"}, "an empty interface name");
}

TEST(Options, TapAndItsRingSize) {
    auto o = parse({"-i", "e", "-w", "f", "--tap"}).capture;
    EXPECT_TRUE(o.tap);
    EXPECT_EQ(o.ring_bytes, 16u << 20);
    EXPECT_FALSE(parse({"-i", "e", "-w", "f"}).capture.tap);
    EXPECT_EQ(parse({"-i", "e", "-w", "f", "--tap", "--ring-size", "64k"}).capture.ring_bytes, 64u << 10);
    EXPECT_EQ(parse({"-i", "e", "-w", "f", "--tap", "--ring-size", "256"}).capture.ring_bytes, 256u << 10);
    EXPECT_EQ(parse({"-i", "e", "-w", "f", "--tap", "--ring-size=1g"}).capture.ring_bytes, 1u << 30);
    expect_usage_error({"-i", "e", "-w", "f", "--tap", "--ring-size", "2g"}, "out of range");
    expect_usage_error({"-i", "e", "-w", "f", "--tap", "--ring-size", "1"}, "out of range");
    // -Q as tcpdump's: --tap takes any direction, redirect mode only in.
    EXPECT_FALSE(parse({"-i", "e", "-w", "f", "--tap"}).capture.direction.has_value());
    EXPECT_EQ(*parse({"-i", "e", "-w", "f", "--tap", "-Q", "out"}).capture.direction, capture_direction::out);
    EXPECT_EQ(*parse({"-i", "e", "-w", "f", "-Q", "in"}).capture.direction, capture_direction::in);
    expect_usage_error({"-i", "e", "-w", "f", "-Q", "out"}, "received packets only");
    expect_usage_error({"-i", "e", "-w", "f", "--tap", "-Q", "both"}, "must be in, out or inout");
    // -J lists (needs -i, not -w); -j names one of -J's types.
    EXPECT_EQ(parse({"-J", "-i", "e"}).what, cli_command::list_time_stamp_types);
    expect_usage_error({"-J"}, "none given");
    EXPECT_TRUE(parse({"-i", "e", "-w", "f", "-j", "adapter_unsynced"}).capture.nic_time);
    expect_usage_error({"-i", "e", "-w", "f", "-j", "adapter"}, "must be host or adapter_unsynced");
    expect_usage_error({"-i", "e", "-w", "f", "--tap", "--ring-size", "x"}, "not a size");
    expect_usage_error({"-i", "e", "-w", "f", "--tap", "--queues", "0"}, "--queues does not apply to --tap");
    expect_usage_error({"-i", "e", "-w", "f", "--tap", "--bind", "copy"}, "--bind does not apply to --tap");
    expect_usage_error({"-i", "e", "-w", "f", "--tap", "-B", "4096"}, "-B does not apply to --tap");
    expect_usage_error({"-i", "e", "-w", "f", "--tap=1"}, "takes no value");
    expect_usage_error({"-i", "e", "-w", "f", "--ring-size", "64k"}, "--ring-size applies only to --tap");
    std::string help = help_text();
    for (const char* s : {"--tap", "--ring-size", "default route", "pcapng"}) {
        EXPECT_NE(help.find(s), std::string::npos) << s;
    }
}

TEST(TraceOptions, DefaultsAndSharedOutputOptions) {
    auto c = parse({"trace", "-i", "eth0", "-w", "t.pcapng"});
    EXPECT_EQ(c.what, cli_command::run_trace);
    EXPECT_EQ(c.trace.capture.interface, "eth0");
    EXPECT_EQ(c.trace.capture.output_path, "t.pcapng");
    EXPECT_TRUE(c.trace.at_entry);
    EXPECT_TRUE(c.trace.at_exit);
    EXPECT_EQ(c.trace.ring_bytes, 8u << 20);
    EXPECT_EQ(c.trace.hook, "");
    // Capture's output options, parsed by the same code.
    auto o = parse({"trace", "-ieth1", "-w-", "-c5", "-s", "96", "--duration=1.5", "--stats", "2", "-q", "-v",
                    "--format", "pcap", "--micro", "-U"});
    EXPECT_EQ(o.trace.capture.count, 5u);
    EXPECT_EQ(o.trace.capture.snaplen, 96u);
    EXPECT_DOUBLE_EQ(o.trace.capture.duration_s, 1.5);
    EXPECT_DOUBLE_EQ(o.trace.capture.stats_interval_s, 2);
    EXPECT_TRUE(o.trace.capture.quiet && o.trace.capture.verbose && o.trace.capture.packet_buffered);
    EXPECT_FALSE(o.trace.capture.nanosecond);
    EXPECT_EQ(o.trace.capture.format, file_format::pcap);
    auto r = parse({"trace", "-i", "e", "-w", "x", "-C", "10", "-W", "3", "-z", "gzip"});
    EXPECT_EQ(r.trace.capture.rotate_bytes, 10'000'000u);
    EXPECT_EQ(r.trace.capture.max_files, 3u);
    // Trace's files go through the same disk writer, with the same memory.
    EXPECT_EQ(parse({"trace", "-i", "e", "-w", "x", "--buffer-len", "1g"}).trace.capture.disk_buffer, 1u << 30);
    EXPECT_EQ(parse({"trace", "-i", "e", "-w", "x", "--buffer-len", "0"}).trace.capture.disk_buffer, 0u);
}

TEST(TraceOptions, AtProgramHookAndRing) {
    auto c = parse({"trace", "-i", "e", "-w", "f", "--at", "exit", "--program", "xdp_lb", "--ring-size", "64k"});
    EXPECT_FALSE(c.trace.at_entry);
    EXPECT_TRUE(c.trace.at_exit);
    EXPECT_EQ(c.trace.program, "xdp_lb");
    EXPECT_EQ(c.trace.ring_bytes, 65536u);
    auto both = parse({"trace", "-i", "e", "-w", "f", "--at=exit,entry"});
    EXPECT_TRUE(both.trace.at_entry && both.trace.at_exit);
    auto h = parse({"trace", "--hook", "/sys/fs/bpf/hook", "-w", "f", "--force"});
    EXPECT_EQ(h.trace.hook, "/sys/fs/bpf/hook");
    EXPECT_TRUE(h.trace.capture.force);
    EXPECT_EQ(parse({"trace", "--help"}).what, cli_command::trace_help);
}

// The same expression syntax as a capture: trailing words, -F, -d.
TEST(TraceOptions, FilterExpressionAsCaptureTakesIt) {
    auto c = parse({"trace", "-i", "e", "-w", "f", "udp", "port", "53", "--at", "exit"});
    EXPECT_EQ(c.what, cli_command::run_trace);
    EXPECT_EQ(c.trace.capture.filter, "udp port 53");
    EXPECT_FALSE(c.trace.at_entry);
    EXPECT_EQ(parse({"trace", "--hook", "/x", "-w", "f", "--", "ip[2:2]", ">", "-1"}).trace.capture.filter,
              "ip[2:2] > -1");
    EXPECT_EQ(parse({"trace", "-i", "e", "-w", "f"}).trace.capture.filter, "");
    char tmpl[] = "/tmp/xcap-filter-XXXXXX";
    int fd = mkstemp(tmpl);
    ASSERT_GE(fd, 0);
    const std::string text = "icmp or\narp\n";
    ASSERT_EQ(write(fd, text.data(), text.size()), ssize_t(text.size()));
    close(fd);
    EXPECT_EQ(parse({"trace", "-i", "e", "-w", "f", "-F", tmpl}).trace.capture.filter, "icmp or arp ");
    expect_usage_error({"trace", "-i", "e", "-w", "f", "-F", tmpl, "udp"}, "both on the command line and in -F");
    unlink(tmpl);
    // -d: compiled with the trace's snaplen (at most 16384), nothing else needed.
    c = parse({"trace", "-d", "icmp"});
    EXPECT_EQ(c.what, cli_command::dump_filter);
    EXPECT_EQ(c.capture.filter, "icmp");
    EXPECT_EQ(c.capture.snaplen, 16384u);
    EXPECT_EQ(parse({"trace", "-s", "96", "-d", "icmp"}).capture.snaplen, 96u);
}

TEST(TraceOptions, BadInputIsNamed) {
    expect_usage_error({"trace", "-w", "f"}, "no interface given");
    expect_usage_error({"trace", "-i", "e"}, "no output given");
    expect_usage_error({"trace", "-i", "e", "-w", "f", "--at", "middle"}, "--at middle");
    expect_usage_error({"trace", "-i", "e", "-w", "f", "--ring-size", "3000"}, "power of two");
    expect_usage_error({"trace", "-i", "e", "-w", "f", "--ring-size", "1k"}, "--ring-size");
    expect_usage_error({"trace", "--hook", "/x", "-w", "f", "--at", "entry"}, "do not go with --hook");
    expect_usage_error({"trace", "-i", "e", "-w", "f", "--queues", "1"}, "--queues");
    expect_usage_error({"trace", "-i", "e", "-w", "-", "-C", "1"}, "need a file");
}

namespace {

// A subcommand's table with what a test line needs around an option.
struct table_case {
    const command_doc& doc;
    std::vector<std::string> prefix;                               // the subcommand's name
    std::vector<std::pair<std::string, std::string>> base;        // what every line needs (option, value)
    std::vector<std::pair<std::string, std::vector<std::string>>> needs;  // option → what it goes with
};

std::vector<table_case> table_cases() {
    return {
        {capture_doc(), {}, {{"-i", "e"}, {"-w", "f.pcapng"}}, {{"--ring-size", {"--tap"}}, {"-Q", {"--tap"}}, {"--direction", {"--tap"}}, {"-W", {"-C", "1m"}}}},
        {replay_doc(), {"replay"}, {{"-i", "e"}, {"-r", "f.pcap"}}, {{"--xdp-tx", {"-t"}}}},
        {trace_doc(), {"trace"}, {{"-i", "e"}, {"-w", "f.pcapng"}}, {{"-W", {"-C", "1m"}}}},
    };
}

bool spelled(const option& o, const std::string& s) { return s == o.short_name || s == o.long_name; }

// Values an option takes: each of its choices ("auto|native|generic"), or
// one sample for a placeholder ("COUNT"). A placeholder without a sample
// fails the test: add one here when a table gains a new kind of value.
std::vector<std::string> sample_values(const option& o, const std::string& readable_file) {
    const std::string name(o.value);
    if (name.find_first_of("abcdefghijklmnopqrstuvwxyz") != std::string::npos) {
        std::vector<std::string> choices;
        std::stringstream in(name);
        for (std::string c; std::getline(in, c, '|');) {
            choices.push_back(c);
        }
        return choices;
    }
    const std::vector<std::pair<std::string, std::string>> samples = {
        {"INTERFACE[,INTERFACE...]", "a,b"},
        {"INTERFACE", "e"},
        {"FILE", readable_file},
        {"COUNT", "5"},
        {"SNAPLEN", "96"},
        {"SECONDS", "2"},  // -G takes whole seconds only
        {"LIST", "0,2-3"},
        {"SIZE", "16m"},
        {"FILES", "2"},
        {"COMMAND", "gzip"},
        {"N", "2"},
        {"X", "2"},
        {"PACKETS", "5"},
        {"PATH", "/sys/fs/bpf/hook"},
        {"NAME|ID", "xdp_lb"},
        {"USER", "nobody"},
    };
    for (const auto& [placeholder, value] : samples) {
        if (placeholder == name) {
            return {value};
        }
    }
    ADD_FAILURE() << "no sample value for " << name << " (" << spellings(o) << ")";
    return {};
}

// Every spelling a heading of the OPTIONS section shows.
std::set<std::string> help_spellings(const std::string& help) {
    const size_t from = help.find("\nOPTIONS\n");
    const size_t to = help.find("\nEXIT STATUS\n");
    EXPECT_NE(from, std::string::npos);
    EXPECT_NE(to, std::string::npos);
    std::set<std::string> found;
    std::stringstream lines(help.substr(from, to - from));
    for (std::string line; std::getline(lines, line);) {
        if (line.size() < 5 || line.compare(0, 4, "    ") != 0 || line[4] != '-') {
            continue;  // not a heading: a paragraph line is indented by 8
        }
        std::stringstream words(line);
        for (std::string w; words >> w;) {
            if (w.back() == ',') {
                w.pop_back();
            }
            if (w[0] == '-') {
                found.insert(w);
            }
        }
    }
    return found;
}

}  // namespace

// Parsing and --help read the same table: every spelling of every option is
// accepted, with every choice of its value, and is a heading of --help.
TEST(OptionTables, EveryOptionIsParsedAndInItsHelp) {
    char tmpl[] = "/tmp/xcap-filter-XXXXXX";
    int fd = mkstemp(tmpl);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(write(fd, "icmp\n", 5), 5);
    close(fd);
    for (const table_case& c : table_cases()) {
        const std::set<std::string> in_help = help_spellings(render_help(c.doc));
        ASSERT_FALSE(c.doc.options.empty());
        for (const option& o : c.doc.options) {
            for (std::string_view spelling : {o.short_name, o.long_name}) {
                if (spelling.empty()) {
                    continue;
                }
                const std::string name(spelling);
                EXPECT_TRUE(in_help.count(name)) << c.doc.command << " --help does not show " << name;
                const std::vector<std::string> values =
                    o.value.empty() ? std::vector<std::string>{""} : sample_values(o, tmpl);
                for (const std::string& value : values) {
                    std::vector<std::string> args = c.prefix;
                    for (const auto& [base, base_value] : c.base) {
                        if (!spelled(o, base)) {
                            args.insert(args.end(), {base, base_value});
                        }
                    }
                    for (const auto& [needer, with] : c.needs) {
                        if (spelled(o, needer)) {
                            args.insert(args.end(), with.begin(), with.end());
                        }
                    }
                    args.push_back(name);
                    if (!o.value.empty()) {
                        args.push_back(value);
                    }
                    try {
                        parse(args);
                    } catch (const failure& e) {
                        ADD_FAILURE() << ::testing::PrintToString(args) << ": " << e.what();
                    }
                }
            }
        }
    }
    unlink(tmpl);
}

// A synopsis is free text, so it is checked against the table: it names no
// option the parser does not take.
TEST(OptionTables, SynopsisNamesOnlyOptionsOfTheTable) {
    for (const table_case& c : table_cases()) {
        std::stringstream words{std::string(c.doc.synopsis)};
        for (std::string w; words >> w;) {
            const size_t begin = w.find_first_not_of("[(|");
            const size_t end = w.find_last_not_of("])|,");
            if (begin == std::string::npos || end == std::string::npos || w[begin] != '-' || end == begin) {
                continue;
            }
            const std::string name = w.substr(begin, end - begin + 1);
            bool known = false;
            for (const option& o : c.doc.options) {
                known = known || spelled(o, name);
            }
            EXPECT_TRUE(known) << c.doc.command << "'s synopsis names " << name;
        }
    }
}

TEST(OptionTables, HelpHasEverySection) {
    for (const table_case& c : table_cases()) {
        const std::string help = render_help(c.doc);
        EXPECT_EQ(help.rfind("NAME\n    " + std::string(c.doc.command) + " - ", 0), 0u);
        for (const char* section : {"\nSYNOPSIS\n", "\nDESCRIPTION\n", "\nOPTIONS\n", "\nEXIT STATUS\n", "\nEXAMPLES\n"}) {
            EXPECT_NE(help.find(section), std::string::npos) << c.doc.command << section;
        }
    }
    EXPECT_EQ(help_text(), render_help(capture_doc()));
    EXPECT_EQ(replay_help_text(), render_help(replay_doc()));
    EXPECT_EQ(trace_help_text(), render_help(trace_doc()));
}

// k, m and g are KiB, MiB and GiB in every size option; a bare number is in
// the unit the option names (-C: millions of bytes, as tcpdump).
TEST(Sizes, OneMeaningForEverySuffix) {
    const auto capture = [](std::vector<std::string> more) {
        std::vector<std::string> args = {"-i", "e", "-w", "f"};
        args.insert(args.end(), more.begin(), more.end());
        return parse(args).capture;
    };
    EXPECT_EQ(capture({"-C", "2k"}).rotate_bytes, 2048u);
    EXPECT_EQ(capture({"-C", "2"}).rotate_bytes, 2'000'000u);
    EXPECT_EQ(capture({"-B", "2m"}).buffer_kib, 2048u);
    EXPECT_EQ(capture({"-B", "2048"}).buffer_kib, 2048u);
    EXPECT_EQ(capture({"-B", "1G"}).buffer_kib, 1u << 20);
    EXPECT_EQ(capture({}).disk_buffer, 256u << 20);
    EXPECT_EQ(capture({"--buffer-len", "2g"}).disk_buffer, uint64_t(2) << 30);
    EXPECT_EQ(capture({"--buffer-len", "65536"}).disk_buffer, 64u << 20);
    EXPECT_EQ(capture({"--buffer-len", "0"}).disk_buffer, 0u);
    EXPECT_EQ(capture({"--tap", "--ring-size", "8K"}).ring_bytes, 8192u);
    EXPECT_EQ(capture({"--tap", "--ring-size", "64"}).ring_bytes, 64u << 10);
    const auto trace_ring = [](const std::string& v) {
        return parse({"trace", "-i", "e", "-w", "f", "--ring-size", v}).trace.ring_bytes;
    };
    EXPECT_EQ(trace_ring("8k"), 8192u);
    EXPECT_EQ(trace_ring("64"), 64u << 10) << "a bare number is KiB for --ring-size everywhere";
    EXPECT_EQ(trace_ring("2g"), 2ull << 30);
    const auto preload = [](const std::string& v) {
        return parse({"replay", "-i", "e", "-r", "f", "--preload", v}).replay.preload_bytes;
    };
    EXPECT_EQ(preload("64"), 64 << 20) << "MiB, as before";
    EXPECT_EQ(preload("512k"), 512 << 10);
    EXPECT_EQ(preload("1g"), 1 << 30);
    EXPECT_EQ(preload("0"), 0);
    expect_usage_error({"-i", "e", "-w", "f", "-B", "4097m"}, "-B 4097m: out of range (1m to 4g)");
    expect_usage_error({"trace", "-i", "e", "-w", "f", "--ring-size", "3g"}, "out of range (4k to 2g)");
    expect_usage_error({"replay", "-i", "e", "-r", "f", "--preload", "1t"}, "not a size");
    expect_usage_error({"-i", "e", "-w", "f", "-C", "99999999999999999999k"}, "out of range");
    EXPECT_EQ(size_text(4096), "4k");
    EXPECT_EQ(size_text(3u << 20), "3m");
    EXPECT_EQ(size_text(2ull << 30), "2g");
    EXPECT_EQ(size_text(1000), "1000 bytes");
}

// A trace with no XDP program to trace captures as --tap does: with its
// ring size when a tap ring can take it, and a refusal (exit 2) otherwise,
// never a silent cut.
TEST(TraceOptions, TapFallbackKeepsTheRingOrRefuses) {
    trace_options t = parse({"trace", "-i", "e", "-w", "t.out", "--ring-size", "1g"}).trace;
    capture_options c = tap_capture_for(t);
    EXPECT_TRUE(c.tap);
    EXPECT_EQ(c.ring_bytes, 1u << 30);
    EXPECT_EQ(c.format, file_format::pcapng) << "a trace writes pcapng unless asked otherwise";
    t.ring_bytes = 2ull << 30;
    try {
        tap_capture_for(t);
        FAIL() << "a 2g ring was taken";
    } catch (const failure& e) {
        EXPECT_EQ(e.kind(), failure_kind::usage);
        EXPECT_EQ(exit_code_for(e.kind()), 2);
        EXPECT_NE(std::string(e.what()).find("--ring-size 2g: e has no XDP program"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.hint()).find("1g or less"), std::string::npos) << e.hint();
    }
    EXPECT_EQ(tap_capture_for(parse({"trace", "-i", "e", "-w", "t.pcap"}).trace).format, file_format::pcap);
    EXPECT_EQ(tap_capture_for(parse({"trace", "-i", "e", "-w", "t.pcap", "--format", "pcapng"}).trace).format,
              file_format::pcapng);
}

// One rule for every mode: --format, else the name's ending, else the mode's default.
TEST(OutputFormat, FormatOptionThenNameThenTheModesDefault) {
    EXPECT_EQ(output_format(std::nullopt, "a.pcapng", file_format::pcap), file_format::pcapng);
    EXPECT_EQ(output_format(std::nullopt, "a.pcap", file_format::pcapng), file_format::pcap);
    EXPECT_EQ(output_format(std::nullopt, "-", file_format::pcap), file_format::pcap);
    EXPECT_EQ(output_format(std::nullopt, "-", file_format::pcapng), file_format::pcapng);
    EXPECT_EQ(output_format(std::nullopt, "pcap", file_format::pcapng), file_format::pcapng);
    EXPECT_EQ(output_format(file_format::pcap, "a.pcapng", file_format::pcapng), file_format::pcap);
    // The same choices as the capture path's own rule (pcap/savefile.h).
    for (const char* path : {"a.pcapng", "a.pcap", "-", "pcapng", "x.cap"}) {
        EXPECT_EQ(output_format(std::nullopt, path, file_format::pcap), format_for_path(path)) << path;
    }
}

// -Z as tcpdump spells it, for a capture and a trace; replay has none.
TEST(Options, RelinquishPrivilegesTakesAUser) {
    EXPECT_FALSE(parse({"-i", "eth0", "-w", "x.pcap"}).capture.run_as.has_value()) << "the default is decided at run time";
    EXPECT_EQ(parse({"-i", "eth0", "-w", "x.pcap", "-Z", "nobody"}).capture.run_as, "nobody");
    EXPECT_EQ(parse({"-i", "eth0", "-w", "x.pcap", "--relinquish-privileges=daemon"}).capture.run_as, "daemon");
    EXPECT_EQ(parse({"-i", "eth0", "-w", "x.pcap", "-Znobody", "--tap"}).capture.run_as, "nobody");
    EXPECT_EQ(parse({"trace", "-i", "eth0", "-w", "x.pcapng", "-Z", "nobody"}).trace.capture.run_as, "nobody");
    expect_usage_error({"-i", "eth0", "-w", "x.pcap", "-Z", ""}, "needs a user name");
    expect_usage_error({"replay", "-i", "eth0", "-r", "x.pcap", "-Z", "nobody"}, "-Z");
    EXPECT_NE(help_text().find("-Z, --relinquish-privileges USER"), std::string::npos);
    EXPECT_NE(trace_help_text().find("--relinquish-privileges"), std::string::npos);
}
