#include <gtest/gtest.h>

#include <set>

#include "frames.h"

using namespace xcap::test;

TEST(Frames, SizesKindsAndTrailers) {
    std::set<frame_kind> kinds;
    size_t min = 100000, max = 0;
    for (uint32_t s = 0; s < 3000; ++s) {
        auto f = build_frame(s);
        min = std::min(min, f.size());
        max = std::max(max, f.size());
        kinds.insert(kind_of(s));
        auto seq = frame_seq(f.data(), uint32_t(f.size()));
        ASSERT_TRUE(seq.has_value());
        EXPECT_EQ(*seq, s);
        EXPECT_EQ(build_frame(s), f) << "deterministic";
    }
    EXPECT_EQ(min, 60u);
    EXPECT_GE(max, 1500u);
    EXPECT_LE(max, 1514u);
    EXPECT_EQ(kinds.size(), size_t(frame_kind::count));
}

TEST(Frames, VlanAndArpLayouts) {
    auto vlan = build_frame(5);
    ASSERT_EQ(kind_of(5), frame_kind::vlan_udp4);
    EXPECT_EQ(vlan[12], 0x81);
    EXPECT_EQ(vlan[13], 0x00);
    auto arp = build_frame(4);
    ASSERT_EQ(kind_of(4), frame_kind::arp);
    EXPECT_EQ(arp.size(), 60u);
    EXPECT_EQ(arp[12], 0x08);
    EXPECT_EQ(arp[13], 0x06);
}

TEST(Frames, ForeignBytesHaveNoSequence) {
    std::vector<uint8_t> junk(60, 0xab);
    EXPECT_FALSE(frame_seq(junk.data(), 60).has_value());
    EXPECT_FALSE(frame_seq(junk.data(), 4).has_value());
}
