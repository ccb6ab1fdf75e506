#include <gtest/gtest.h>

#include "capture/capture.h"

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

// Frames longer than the sockets take (no multi-buffer) are drops with their
// own reason, in the total, the dropped line and the --stats line; the
// reason is named only when there are any.
TEST(Summary, TooLargeIsADropWithItsOwnReason) {
    capture_totals t;
    t.received = 10;
    t.written = 10;
    EXPECT_EQ(format_summary(t, "x.pcap").find("too_large"), std::string::npos);
    t.program.too_large = 7;
    EXPECT_EQ(t.dropped(), 7u);
    std::string s = format_summary(t, "x.pcap");
    EXPECT_NE(s.find("7 packets dropped: rx_dropped 0,"), std::string::npos) << s;
    EXPECT_NE(s.find("write_errors 0, too_large 7\n"), std::string::npos) << s;
    std::string line = format_stats_line(capture_totals{}, t, 1);
    EXPECT_NE(line.find("dropped 7"), std::string::npos) << line;
    EXPECT_NE(line.find("; 7 too_large"), std::string::npos) << line;
}
