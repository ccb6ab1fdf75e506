// The AF_XDP source over rings in plain memory (tests/common/plain_rings.h):
// multi-buffer packets (XDP_PKT_CONTD) become one record holding the whole
// frame, and every frame of theirs goes back to the fill ring.
#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "sources/xsk_source.h"
#include "frames.h"
#include "plain_rings.h"

using namespace xcap;
using xcap::test::plain_queue;

namespace {

// Frame i of the mixed sizes below: a pattern that names it.
std::vector<uint8_t> frame_bytes(uint32_t i, uint32_t len) {
    std::vector<uint8_t> f(len);
    for (uint32_t j = 0; j < len; ++j) {
        f[j] = uint8_t(i * 131 + j * 7 + (j >> 8));
    }
    return f;
}

struct queue_under_test {
    plain_queue kernel;
    std::unique_ptr<xsk_source> source;
    // `meta_in_frame`: the metadata at the start of each frame, as xcap_rx
    // puts it where the kernel refuses the metadata area.
    explicit queue_under_test(uint32_t frames, bool meta_in_frame = false)
        : kernel(frames), prefix(meta_in_frame ? uint32_t(sizeof(xcap_meta)) : 0) {
        kernel.meta_in_frame = meta_in_frame;
        xsk_source::rings r{&kernel.rx, &kernel.fill, kernel.area(), kernel.frame_mask(), 0, &kernel.drops};
        source = std::make_unique<xsk_source>(r, &kernel.issued);
        source->set_meta_in_frame(meta_in_frame);
    }
    const uint32_t prefix;
    // Sends frame i: several descriptors when it does not fit one frame.
    void deliver(uint32_t i, uint32_t len) {
        auto f = frame_bytes(i, len);
        if (len + prefix <= plain_queue::frame_size - plain_queue::headroom) {
            ASSERT_TRUE(kernel.deliver(1000 + i, 0, len));
            // deliver() fills with one byte; write the pattern over it.
            uint32_t prod = *kernel.rx.producer;
            const xdp_desc* d = xsk_ring_cons__rx_desc(&kernel.rx, prod - 1);
            std::memcpy(kernel.area() + d->addr + prefix, f.data(), len);
        } else {
            ASSERT_TRUE(kernel.deliver_frags(1000 + i, f));
        }
    }
};

void expect_record(const record_ref& r, uint32_t i, uint32_t len) {
    ASSERT_EQ(r.len, len) << "frame " << i;
    EXPECT_EQ(r.wire_len, 0u) << "frame " << i;
    EXPECT_EQ(r.ts_ns, 1000u + i) << "the first descriptor's metadata stamps the packet";
    EXPECT_EQ(r.stamped, 1u);
    auto f = frame_bytes(i, len);
    std::vector<uint8_t> got(len);
    if (r.segs) {
        gather(got.data(), r.segs, len);
        EXPECT_EQ(r.data, r.segs[0].data);
    } else {
        std::memcpy(got.data(), r.data, len);
    }
    ASSERT_EQ(std::memcmp(got.data(), f.data(), len), 0) << "frame " << i << " (" << len << " bytes)";
}

}  // namespace

TEST(XskSourceMultiBuffer, ContdDescriptorsBecomeOneRecordInOrder) {
    queue_under_test q(256);
    // 60 .. 9018 bytes: one, two, three and six frames of 1792 bytes.
    const std::vector<uint32_t> lens = {60, 1792, 1793, 3000, 60, 9014, 9018, 1514, 5000, 64};
    for (uint32_t i = 0; i < lens.size(); ++i) {
        q.deliver(i, lens[i]);
    }
    record_ref recs[64];
    size_t n = q.source->peek(recs, 64);
    ASSERT_EQ(n, lens.size());
    for (uint32_t i = 0; i < n; ++i) {
        expect_record(recs[i], i, lens[i]);
    }
    EXPECT_EQ(q.source->counters().received.load(), lens.size()) << "packets, not descriptors";
    // Released in two parts, as the writer may: every frame goes back.
    q.source->release(recs, 4);
    q.source->release(recs + 4, n - 4);
    EXPECT_EQ(q.kernel.rx_level(), 0u);
    EXPECT_EQ(q.kernel.fill_level(), 256u) << "every frame is back on the fill ring";
    EXPECT_EQ(q.source->quiet(), packet_source::quiet_state::quiet) << "issued packets all peeked";
}

TEST(XskSourceMultiBuffer, APacketCutByTheBatchLimitIsPeekedWhole) {
    queue_under_test q(64);
    q.deliver(0, 60);
    q.deliver(1, 9018);  // six descriptors
    q.deliver(2, 60);
    record_ref recs[2];
    // Two records asked: the second is six descriptors, read past the limit.
    ASSERT_EQ(q.source->peek(recs, 2), 2u);
    expect_record(recs[0], 0, 60);
    expect_record(recs[1], 1, 9018);
    q.source->release(recs, 2);
    ASSERT_EQ(q.source->peek(recs, 2), 1u);
    expect_record(recs[0], 2, 60);
    q.source->release(recs, 1);
    EXPECT_EQ(q.kernel.fill_level(), 64u);
}

TEST(XskSourceMultiBuffer, PiecesStayInTheUmemNothingIsCopied) {
    // 200 frames of 9000 bytes, six descriptors each, over several batches:
    // every piece points into the UMEM, one per descriptor, nothing lost or
    // reordered, every frame back on the fill ring.
    const uint32_t count = 200;
    queue_under_test q(2048);
    uint8_t* const lo = q.kernel.area();
    uint8_t* const hi = lo + 2048 * size_t(plain_queue::frame_size);
    uint32_t next = 0;
    record_ref recs[64];
    for (uint32_t i = 0; i < count; ++i) {
        q.deliver(i, 9000);
    }
    while (next < count) {
        size_t n = q.source->peek(recs, 64);
        ASSERT_GT(n, 0u) << "stuck at frame " << next;
        for (size_t j = 0; j < n; ++j) {
            expect_record(recs[j], next + uint32_t(j), 9000);
            ASSERT_NE(recs[j].segs, nullptr);
            uint32_t sum = 0;
            for (int k = 0; k < 6; ++k) {
                EXPECT_GE(recs[j].segs[k].data, lo);
                EXPECT_LT(recs[j].segs[k].data, hi);
                sum += recs[j].segs[k].len;
            }
            EXPECT_EQ(sum, 9000u) << "six pieces of at most 1792 bytes";
        }
        next += uint32_t(n);
        q.source->release(recs, n);
    }
    EXPECT_EQ(q.kernel.fill_level(), 2048u);
    EXPECT_EQ(q.kernel.rx_level(), 0u);
}

TEST(XskSourceMultiBuffer, SingleBufferBatchesStayInPlace) {
    queue_under_test q(64);
    q.deliver(0, 100);
    q.deliver(1, 1500);
    record_ref recs[8];
    ASSERT_EQ(q.source->peek(recs, 8), 2u);
    // Read in place in the UMEM, not copied.
    EXPECT_GE(recs[0].data, q.kernel.area());
    EXPECT_LT(recs[0].data, q.kernel.area() + 64 * plain_queue::frame_size);
    expect_record(recs[1], 1, 1500);
    q.source->release(recs, 2);
    EXPECT_EQ(q.kernel.fill_level(), 64u);
}

// Where the kernel refuses the metadata area, xcap_rx puts the metadata at
// the start of the frame: the records start after it, with the same stamps
// and bytes, whole frames and multi-buffer alike, the byte count the
// packets' own, and every frame goes back.
TEST(XskSourceMetaInFrame, RecordsStartAfterTheMetadataWithItsStamp) {
    queue_under_test q(256, true);
    // 1760 bytes fill one frame exactly after the 32 of metadata; 1761 take two.
    const std::vector<uint32_t> lens = {60, 1760, 1761, 1792, 3000, 9018, 1514, 64};
    uint64_t bytes = 0;
    for (uint32_t i = 0; i < lens.size(); ++i) {
        q.deliver(i, lens[i]);
        bytes += lens[i];
    }
    EXPECT_EQ(q.kernel.rx_level(), 1u + 1 + 2 + 2 + 2 + 6 + 1 + 1) << "descriptors, the metadata in the first";
    record_ref recs[64];
    size_t n = q.source->peek(recs, 64);
    ASSERT_EQ(n, lens.size());
    for (uint32_t i = 0; i < n; ++i) {
        expect_record(recs[i], i, lens[i]);
    }
    EXPECT_EQ(q.source->counters().received_bytes.load(), bytes) << "the metadata is not counted";
    q.source->release(recs, n);
    EXPECT_EQ(q.kernel.rx_level(), 0u);
    EXPECT_EQ(q.kernel.fill_level(), 256u);
    EXPECT_EQ(q.source->quiet(), packet_source::quiet_state::quiet);
}
