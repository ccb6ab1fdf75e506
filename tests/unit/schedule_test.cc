#include <gtest/gtest.h>

#include <map>
#include <random>

#include "frames.h"
#include "replay/schedule.h"

using namespace xcap;

TEST(Schedule, OriginalTimingAndMultiplier) {
    pacing p;
    p.multiplier = 2;
    schedule_builder s(p);
    EXPECT_EQ(s.next(1'000'000'000, 60), 0);
    EXPECT_EQ(s.next(1'010'000'000, 60), 5'000'000) << "a 10 ms gap at 2x is 5 ms";
    EXPECT_EQ(s.next(1'030'000'000, 60), 15'000'000);
    EXPECT_EQ(s.next(1'020'000'000, 60), 15'000'000) << "backwards timestamps are due at once, never earlier";
    EXPECT_EQ(s.loop_period_ns(), 15'000'000);
}

TEST(Schedule, PacketsPerSecondIsAbsolute) {
    pacing p;
    p.mode = pace_mode::pps;
    p.pps = 1000;
    p.loop_delay_ns = 7;
    schedule_builder s(p);
    for (int i = 0; i < 10; ++i) {
        EXPECT_EQ(s.next(uint64_t(i), 100), int64_t(i) * 1'000'000);
    }
    EXPECT_EQ(s.loop_period_ns(), 10'000'000 + 7) << "loop 2 continues the same rate after the delay";
}

TEST(Schedule, MegabitsPerSecondCountsBytesBefore) {
    pacing p;
    p.mode = pace_mode::mbps;
    p.mbps = 8;  // one byte per microsecond
    schedule_builder s(p);
    EXPECT_EQ(s.next(0, 100), 0);
    EXPECT_EQ(s.next(0, 50), 100'000);
    EXPECT_EQ(s.next(0, 10), 150'000);
    EXPECT_EQ(s.loop_period_ns(), 160'000);
}

TEST(Schedule, TopspeedIsAlwaysDue) {
    pacing p;
    p.mode = pace_mode::topspeed;
    schedule_builder s(p);
    EXPECT_EQ(s.next(5, 1), 0);
    EXPECT_EQ(s.next(99'999'999'999, 1), 0);
    EXPECT_EQ(s.loop_period_ns(), 0);
}

TEST(Histogram, QuantilesWithinBucketPrecision) {
    error_histogram h;
    for (uint64_t v = 1; v <= 100'000; ++v) {
        h.record(v);
    }
    EXPECT_EQ(h.count(), 100'000u);
    EXPECT_EQ(h.max(), 100'000u);
    auto within = [](uint64_t got, uint64_t want) { return got >= want && double(got) <= double(want) * 1.0625 + 1; };
    EXPECT_TRUE(within(h.quantile(0.5), 50'000)) << h.quantile(0.5);
    EXPECT_TRUE(within(h.quantile(0.99), 99'000)) << h.quantile(0.99);
    EXPECT_EQ(h.quantile(1.0), 100'000u);
    error_histogram small;
    small.record(3);
    EXPECT_EQ(small.quantile(0.5), 3u);
    error_histogram merged;
    merged.merge(h);
    merged.merge(small);
    EXPECT_EQ(merged.count(), 100'001u);
}

TEST(Histogram, BucketsCoverEveryValue) {
    std::mt19937_64 rng(1);
    for (int i = 0; i < 100'000; ++i) {
        uint64_t v = rng() >> (rng() % 64);
        size_t b = error_histogram::index(v);
        ASSERT_LT(b, error_histogram::buckets);
        ASSERT_GE(error_histogram::upper(b), v);
        if (b > 0) {
            ASSERT_LT(error_histogram::upper(b - 1), v) << "bucket " << b << " is the first that holds " << v;
        }
    }
}

TEST(FlowQueue, OneFlowOneQueueAndFlowsSpread) {
    std::map<uint32_t, int> per_queue;
    for (uint32_t seq = 0; seq < 6000; ++seq) {
        auto f = test::build_frame(seq);
        uint32_t q = flow_queue(f.data(), uint32_t(f.size()), 4);
        ASSERT_LT(q, 4u);
        // Frames of the same kind and source port (seq % 1000) are one flow.
        auto again = test::build_frame(seq + 6000);
        if (test::kind_of(seq) != test::frame_kind::arp && test::kind_of(seq) != test::frame_kind::icmp4) {
            EXPECT_EQ(flow_queue(again.data(), uint32_t(again.size()), 4), q) << "seq " << seq;
        }
        per_queue[q]++;
    }
    EXPECT_EQ(per_queue.size(), 4u);
    for (auto [q, n] : per_queue) {
        EXPECT_GT(n, 600) << "queue " << q;
    }
    const uint8_t tiny[5] = {1, 2, 3, 4, 5};
    EXPECT_LT(flow_queue(tiny, 5, 3), 3u);
    EXPECT_EQ(flow_queue(tiny, 5, 1), 0u);
}

TEST(FlowQueue, TwoQueuesSplitFlowsThatDifferOnlyInPorts) {
    // Flows whose port bytes differ in ways that cancel in an XOR of low bits
    // (what a bare FNV-1a % 2 depends on) must still split.
    std::map<uint32_t, int> per_queue;
    for (uint32_t i = 0; i < 64; ++i) {
        auto f = test::build_small_frame(i);
        f[34] = uint8_t(i % 16);
        per_queue[flow_queue(f.data(), uint32_t(f.size()), 2)]++;
    }
    EXPECT_GT(per_queue[0], 8);
    EXPECT_GT(per_queue[1], 8);
}

TEST(Schedule, HugeOffsetsSaturateInsteadOfWrapping) {
    pacing p;
    p.multiplier = 1e-9;  // a 2-minute gap becomes 1.2e20 ns: beyond int64
    schedule_builder s(p);
    EXPECT_EQ(s.next(0, 60), 0);
    EXPECT_EQ(s.next(120'000'000'000ull, 60), schedule_builder::max_offset_ns);
    EXPECT_EQ(due_in_loop(5, 3, schedule_builder::max_offset_ns), schedule_builder::max_offset_ns);
    EXPECT_EQ(due_in_loop(5, 3, 10), 35);
}
