#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <string>

#include "engine/packet_memory.h"
#include <linux/capability.h>

#include "modes/capture.h"
#include "engine/caps.h"
#include "engine/clock.h"
#include "engine/cpu.h"

using namespace xcap;

TEST(Caps, NamesEachMissingCapability) {
    const auto& needs = capture_capabilities();
    uint64_t all = (1ull << CAP_NET_ADMIN) | (1ull << CAP_BPF) | (1ull << CAP_NET_RAW) | (1ull << CAP_IPC_LOCK) |
                   (1ull << CAP_PERFMON);
    EXPECT_TRUE(missing_capabilities(all, needs).empty());
    auto m = missing_capabilities(all & ~(1ull << CAP_NET_RAW), needs);
    ASSERT_EQ(m.size(), 1u);
    EXPECT_STREQ(m[0].name, "CAP_NET_RAW");
    EXPECT_EQ(missing_capabilities(0, needs).size(), needs.size());
}

TEST(Caps, SysAdminStandsInForBpf) {
    const auto& needs = capture_capabilities();
    uint64_t old_style = (1ull << CAP_NET_ADMIN) | (1ull << CAP_SYS_ADMIN) | (1ull << CAP_NET_RAW) |
                         (1ull << CAP_IPC_LOCK);
    EXPECT_TRUE(missing_capabilities(old_style, needs).empty());
}

TEST(Clock, OffsetAgreesWithANaiveReadingAndIsTight) {
    auto off = measure_clock_offset();
    int64_t naive = realtime_ns() - monotonic_ns();
    EXPECT_LT(std::llabs(off.realtime_minus_monotonic_ns - naive), 1'000'000) << "within 1 ms of a naive read";
    EXPECT_GE(off.uncertainty_ns, 0);
    EXPECT_LT(off.uncertainty_ns, 100'000) << "the best of 64 samples is tighter than 100 µs";
}

TEST(Cpu, AllowedCpusAreSortedAndNonEmpty) {
    auto cpus = allowed_cpus();
    ASSERT_FALSE(cpus.empty());
    EXPECT_TRUE(std::is_sorted(cpus.begin(), cpus.end()));
    EXPECT_TRUE(pin_current_thread(cpus.front()));
}

TEST(Summary, CountsEveryDropReasonOnceAndNamesAllSixXskCounters) {
    capture_totals t;
    t.written = 10;
    t.received = 12;
    t.over_limit = 2;
    t.write_errors = 6;
    xdp_statistics copy_st{};  // copy mode: a fill-ring-empty drop is also in rx_dropped
    copy_st.rx_dropped = 4;
    copy_st.rx_fill_ring_empty_descs = 4;
    copy_st.rx_invalid_descs = 2;
    copy_st.rx_ring_full = 3;
    copy_st.tx_invalid_descs = 100;  // TX counters are reported, not counted as capture drops
    xdp_statistics zc_st{};  // zero-copy: the driver drops, only the fill-ring counter sees it
    zc_st.rx_fill_ring_empty_descs = 7;
    queue_totals copy_q;
    copy_q.queue = 0;
    copy_q.dropped = xsk_drops(copy_st, false);
    queue_totals zc_q;
    zc_q.queue = 1;
    zc_q.dropped = xsk_drops(zc_st, true);
    t.queues = {copy_q, zc_q};
    xdp_statistics sum{};
    sum.rx_dropped = 4;
    sum.rx_fill_ring_empty_descs = 11;
    sum.rx_invalid_descs = 2;
    sum.rx_ring_full = 3;
    sum.tx_invalid_descs = 100;
    t.losses = socket_losses(sum, 0);
    EXPECT_EQ(copy_q.dropped, 4u + 2 + 3);
    EXPECT_EQ(zc_q.dropped, 7u);
    EXPECT_EQ(t.dropped(), 9u + 7 + 6);
    std::string s = format_summary(t, "x.pcap");
    for (const char* name : {"rx_dropped 4", "rx_invalid_descs 2", "rx_ring_full 3", "rx_fill_ring_empty_descs 11",
                             "tx_invalid_descs 100", "tx_ring_empty_descs 0",
                             "write_errors 6", "10 packets captured", "22 packets dropped",
                             "2 after the -c limit", "queue 0: 0 received, 9 dropped",
                             "queue 1: 0 received, 7 dropped"}) {
        EXPECT_NE(s.find(name), std::string::npos) << name << " in:\n" << s;
    }
}

TEST(Summary, StatsLineRates) {
    capture_totals a, b;
    b.received = 2'000'000;
    b.received_bytes = 125'000'000;
    std::string line = format_stats_line(a, b, 2.0);
    EXPECT_NE(line.find("1.000 Mpps"), std::string::npos) << line;
    EXPECT_NE(line.find("500.0 Mbps"), std::string::npos) << line;
}

TEST(PacketMemory, AlignedWritableAndOnHugePagesWhereTheKernelHasThem) {
    const size_t size = size_t(16) << 20;  // a 4096-frame UMEM of 4 KiB frames
    packet_memory m(size);
    ASSERT_NE(m.data(), nullptr);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(m.data()) % packet_memory::huge_page, 0u);
    std::memset(m.data(), 0x5a, size);  // every byte is there and writable
    EXPECT_EQ(m.data()[size - 1], 0x5a);
    std::ifstream thp("/sys/kernel/mm/transparent_hugepage/enabled");
    std::string mode;
    std::getline(thp, mode);
    if (mode.empty() || mode.find("[never]") != std::string::npos) {
        GTEST_SKIP() << "transparent huge pages are off here (" << (mode.empty() ? "no THP" : mode)
                     << "): the memory is plain pages";
    }
    EXPECT_GE(m.huge_bytes(), size / 2) << "THP is '" << mode << "' but the packet memory got few huge pages";
}

TEST(Caps, TapNeedsNoSocketsOrUmemAndSysAdminGrantsPerfmon) {
    const uint64_t tap = (1ull << CAP_NET_ADMIN) | (1ull << CAP_BPF) | (1ull << CAP_NET_RAW);
    EXPECT_TRUE(missing_capabilities(tap, tap_capabilities(true)).empty());
    auto m = missing_capabilities((1ull << CAP_NET_ADMIN) | (1ull << CAP_BPF), tap_capabilities(true));
    ASSERT_EQ(m.size(), 1u);
    EXPECT_STREQ(m[0].name, "CAP_NET_RAW");
    EXPECT_TRUE(missing_capabilities((1ull << CAP_NET_ADMIN) | (1ull << CAP_BPF), tap_capabilities(false)).empty());
    auto r = missing_capabilities(tap | (1ull << CAP_IPC_LOCK), capture_capabilities());
    ASSERT_EQ(r.size(), 1u);
    EXPECT_STREQ(r[0].name, "CAP_PERFMON");
    EXPECT_TRUE(missing_capabilities(tap | (1ull << CAP_IPC_LOCK) | (1ull << CAP_SYS_ADMIN), capture_capabilities())
                    .empty());
}
