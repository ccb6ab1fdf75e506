#include <gtest/gtest.h>

#include "modes/capture.h"
#include "modes/trace.h"
#include "replay/replay.h"

using namespace xcap;

namespace {

// The rate part of the --stats line for `packets` of `bytes` each in `seconds`.
std::string rates(uint64_t packets, uint64_t bytes, double seconds) {
    capture_totals a, b;
    b.received = packets;
    b.received_bytes = packets * bytes;
    std::string line = format_stats_line(a, b, seconds);
    return line.substr(0, line.find(", ", line.find(", ") + 2));
}

}  // namespace

// "0.000 Mpps" said nothing at low rates: each rate takes the unit its
// magnitude needs, and the high-rate form stays as it was.
TEST(Summary, StatsLineRatesByMagnitude) {
    EXPECT_EQ(rates(0, 0, 1), "0 pps, 0 bps");
    EXPECT_EQ(rates(850, 100, 1), "850 pps, 680.0 kbps");
    EXPECT_EQ(rates(3, 60, 2), "2 pps, 720 bps");
    EXPECT_EQ(rates(12'300, 64, 1), "12.3 kpps, 6.3 Mbps");
    EXPECT_EQ(rates(1'234'000, 1500, 1), "1.234 Mpps, 14808.0 Mbps");
    EXPECT_EQ(rates(2'000'000, 62, 2), "1.000 Mpps, 496.0 Mbps");
}

// Rounding never shows "1000 pps" or "1000.0 kpps": it moves up a unit.
TEST(Summary, StatsLineRateBoundaries) {
    EXPECT_EQ(rates(999, 1, 1).substr(0, 7), "999 pps");
    EXPECT_EQ(rates(9'997, 1, 10).substr(0, 8), "1.0 kpps");
    EXPECT_EQ(rates(999'949, 1, 1).substr(0, 10), "999.9 kpps");
    EXPECT_EQ(rates(999'960, 1, 1).substr(0, 10), "1.000 Mpps");
}

namespace {

// Two interfaces of two queues each, as redirect or tap mode counts them
// (tap: a ring-full loss per queue).
capture_totals two_interfaces(bool tap) {
    capture_totals t;
    t.interfaces = {"eth1", "eth2"};
    xcap_ring_counters ring{};
    for (uint32_t i = 0; i < 2; ++i) {
        for (uint32_t q = 0; q < 2; ++q) {
            queue_totals qt;
            qt.interface = i;
            qt.queue = q;
            qt.received = 10 * (i + 1) + q;
            qt.dropped = tap ? 1 : 0;
            qt.offered = qt.received + 1;
            t.queues.push_back(qt);
            t.received += qt.received;
            ring.seen += qt.offered;
            ring.recorded += qt.received;
            ring.ring_full += qt.dropped;
        }
    }
    t.written = t.received;
    if (tap) {
        t.losses = ring_losses(ring.ring_full);
        t.program_lines = {tap_program_line(ring, false, 0)};
    } else {
        t.losses = socket_losses(xdp_statistics{}, 0);
        t.program_lines = redirect_program_lines(xcap_rx_counters{}, false, false, 0);
    }
    return t;
}

// The tap program's counts of two_interfaces(true).
xcap_ring_counters tap_rings_of(const capture_totals& t) {
    xcap_ring_counters c{};
    for (const auto& q : t.queues) {
        c.seen += q.offered;
        c.recorded += q.received;
        c.ring_full += q.dropped;
    }
    return c;
}

}  // namespace

// Several interfaces: a line per interface, then its queues, each named.
TEST(Summary, PerInterfaceAndPerQueue) {
    std::string s = format_summary(two_interfaces(false), "x.pcapng");
    EXPECT_NE(s.find("eth1: 21 received, 0 dropped\neth1 queue 0: 10 received, 0 dropped\n"
                     "eth1 queue 1: 11 received, 0 dropped\neth2: 41 received, 0 dropped\n"),
              std::string::npos)
        << s;
    std::string line = format_stats_line(capture_totals{}, two_interfaces(false), 1);
    EXPECT_NE(line.find("; eth1 21 pps, 0 dropped [q0 10 pps 0 dropped, q1 11 pps 0 dropped]; eth2 41 pps, 0 dropped "
                        "[q0 20 pps 0 dropped, q1 21 pps 0 dropped]"),
              std::string::npos)
        << line;
    // One interface with several queues: the queues alone.
    capture_totals one;
    for (uint32_t q = 0; q < 2; ++q) {
        queue_totals qt;
        qt.queue = q;
        qt.received = 5 + q;
        one.queues.push_back(qt);
    }
    line = format_stats_line(capture_totals{}, one, 1);
    EXPECT_NE(line.find("; [q0 5 pps 0 dropped, q1 6 pps 0 dropped]"), std::string::npos) << line;
    // One queue: no breakdown at all.
    one.queues.pop_back();
    line = format_stats_line(capture_totals{}, one, 1);
    EXPECT_EQ(line.find('['), std::string::npos) << line;
}

// Tap: ring losses by reason, what the program saw and recorded, and the
// queues' lines in the form redirect mode prints.
TEST(Summary, TapCountsRingLosses) {
    capture_totals t = two_interfaces(true);
    std::string s = format_summary(t, "x.pcapng");
    EXPECT_NE(s.find("62 packets captured (written to x.pcapng)\n"), std::string::npos) << s;
    EXPECT_NE(s.find("4 packets dropped: ring_full 4, write_errors 0\n"), std::string::npos) << s;
    EXPECT_NE(s.find("XDP tap program: 66 seen, 62 recorded, 4 not recorded (ring full); every packet passed to "
                     "the stack\n"),
              std::string::npos)
        << s;
    EXPECT_NE(s.find("eth2 queue 1: 21 received, 1 dropped\n"), std::string::npos) << s;
    t.filtered = true;
    t.filter_rejected = 100;
    t.program_lines = {tap_program_line(tap_rings_of(t), true, 100)};
    s = format_summary(t, "x.pcapng");
    EXPECT_NE(s.find("XDP tap program: 166 seen, 66 matched, 62 recorded, 4 not recorded (ring full), 100 did not "
                     "match;"),
              std::string::npos)
        << s;
    std::string line = format_stats_line(capture_totals{}, t, 1);
    EXPECT_NE(line.find("dropped 4 (ring_full 4, write_errors 0); 100 did not match the filter"), std::string::npos)
        << line;
}

// Frames longer than the sockets take (no multi-buffer) are drops with their
// own reason, in the total, the dropped line and the --stats line; the
// reason is named only when there are any.
TEST(Summary, TooLargeIsADropWithItsOwnReason) {
    capture_totals t;
    t.received = 10;
    t.written = 10;
    t.losses = socket_losses(xdp_statistics{}, 0);
    EXPECT_EQ(format_summary(t, "x.pcap").find("too_large"), std::string::npos);
    t.losses = socket_losses(xdp_statistics{}, 7);
    t.dropped_elsewhere = 7;
    EXPECT_EQ(t.dropped(), 7u);
    std::string s = format_summary(t, "x.pcap");
    EXPECT_NE(s.find("7 packets dropped: rx_dropped 0,"), std::string::npos) << s;
    EXPECT_NE(s.find("write_errors 0, too_large 7\n"), std::string::npos) << s;
    std::string line = format_stats_line(capture_totals{}, t, 1);
    EXPECT_NE(line.find("dropped 7"), std::string::npos) << line;
    EXPECT_NE(line.find("; 7 too_large"), std::string::npos) << line;
}

TEST(TraceSummary, HistogramAndLossesByReasonAndCpu) {
    xcap::trace_totals t;
    t.ring_bytes = 8u << 20;
    t.capture.received = 1990;
    t.capture.written = 1990;
    xcap::program_counts p;
    p.name = "'xdp_lb' (id 42)";
    p.seen = 1000;
    p.recorded = 1990;
    p.ring_full = 10;
    p.ring_full_per_cpu = {7, 0, 3};
    p.actions[2] = 990;
    p.actions[1] = 5;
    p.actions[4] = 5;
    t.programs.push_back(p);
    std::string s = xcap::format_trace_summary(t, "t.pcapng");
    EXPECT_NE(s.find("1990 records written to t.pcapng (1000 packets seen, each recorded at entry and exit)\n"),
              std::string::npos) << s;
    EXPECT_NE(s.find("2000 records offered to the ring buffer (8192 KiB), 1990 records received by xcap\n"),
              std::string::npos) << s;
    EXPECT_NE(s.find("10 records lost: ring buffer full 10 (cpu0 7, cpu2 3), write_errors 0\n"), std::string::npos) << s;
    EXPECT_NE(s.find("'xdp_lb' (id 42): XDP_PASS 990, XDP_DROP 5, XDP_TX 0, XDP_REDIRECT 5, XDP_ABORTED 0\n"),
              std::string::npos) << s;
    t.at_exit = false;
    s = xcap::format_trace_summary(t, "t.pcapng");
    EXPECT_NE(s.find("recorded at entry)"), std::string::npos) << s;
    EXPECT_EQ(s.find("XDP_PASS"), std::string::npos) << "no actions without the exit: " << s;
}

// With a filter: how many did not match, and what became of the rest.
TEST(TraceSummary, FilterSaysHowManyDidNotMatch) {
    xcap::trace_totals t;
    t.ring_bytes = 8u << 20;
    t.filtered = true;
    t.capture.received = t.capture.written = 240;
    xcap::program_counts p;
    p.name = "'xdp_lb' (id 42)";
    p.seen = 1000;
    p.recorded = 240;
    p.filtered = 880;
    p.actions[2] = 1000;
    t.programs.push_back(p);
    std::string s = xcap::format_trace_summary(t, "t.pcapng");
    EXPECT_NE(s.find("240 records written to t.pcapng (1000 packets seen, 880 did not match the filter, the other 120 "
                     "each recorded at entry and exit)\n"),
              std::string::npos)
        << s;
    t.hook = true;
    s = xcap::format_trace_summary(t, "t.pcapng");
    EXPECT_NE(s.find("(1000 packets seen, 880 did not match the filter, the other 120 recorded as the program left "
                     "them)"),
              std::string::npos)
        << s;
    t.filtered = false;
    EXPECT_EQ(xcap::format_trace_summary(t, "t.pcapng").find("filter"), std::string::npos);
}

// What the interface dropped is said as dropped by it, not as sent; the
// counter's whole rise is shown when other senders' drops are in it.
TEST(ReplaySummary, InterfaceDropsAreNotCountedAsSent) {
    replay_totals t;
    t.sent = 6;
    t.sent_bytes = 600;
    t.dropped_by_interface = 4;
    t.interface_tx_dropped = 4;
    t.seconds = 1;
    t.paced = false;
    t.queues.push_back(replay_queue_totals{0, false, 10, {}});
    std::string s = format_replay_summary(t, "eth9");
    EXPECT_NE(s.find("sent 6 packets (600 bytes)"), std::string::npos) << s;
    EXPECT_NE(s.find("dropped by eth9: 4 packets (its tx_dropped counter), not counted as sent\n"), std::string::npos)
        << s;
    EXPECT_NE(s.find("TX queue 0: 10 completed"), std::string::npos) << s;

    t.interface_tx_dropped = 7;
    s = format_replay_summary(t, "eth9");
    EXPECT_NE(s.find("dropped by eth9: 4 packets (its tx_dropped counter rose by 7, other senders' drops included)"),
              std::string::npos)
        << s;

    t.dropped_by_interface = t.interface_tx_dropped = 0;
    s = format_replay_summary(t, "eth9");
    EXPECT_EQ(s.find("dropped by"), std::string::npos) << s;
}
