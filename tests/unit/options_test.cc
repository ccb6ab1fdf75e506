#include <gtest/gtest.h>
#include <unistd.h>

#include "common/error.h"
#include "cli/options.h"

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
