#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <vector>

#include "capture/channel.h"
#include "engine/clock.h"
#include "pcap/pcap_writer.h"
#include "pcap/savefile.h"
#include "capture/writer.h"
#include "bpf/xcap_abi.h"

using namespace xcap;

namespace {

constexpr uint32_t frame_size = 2048;
constexpr uint32_t frames = 64;
constexpr uint32_t headroom = 256;

// A queue's UMEM in plain memory, and the channel the writer reads.
struct fake_queue {
    std::vector<uint8_t> area = std::vector<uint8_t>(size_t(frame_size) * frames);
    std::unique_ptr<queue_channel> ch;
    uint32_t next_frame = 0;

    // The kernel RX ring's indices and the XDP program's count of packets
    // redirected here, as the writer sees them.
    uint32_t rx_prod = 0;
    uint32_t rx_cons = 0;
    uint64_t issued = 0;
    uint64_t in_flight = 0;  // counted by the program, not yet published

    explicit fake_queue(uint32_t q)
        : ch(std::make_unique<queue_channel>(q, area.data(), ~uint64_t(frame_size - 1), frames,
                                             kernel_view{&rx_prod, &rx_cons, &issued})) {}

    // The program has counted (and stamped) a packet that is not on the RX
    // ring yet: the next deliver() publishes it.
    void stamp_in_flight() {
        ++issued;
        ++in_flight;
    }

    // A packet of `len` bytes, all `fill`, stamped `ts` (or unstamped).
    void deliver(uint64_t ts, uint8_t fill, uint32_t len, bool stamped = true) {
        if (in_flight) {
            --in_flight;
        } else {
            ++issued;
        }
        uint64_t addr = uint64_t(next_frame++ % frames) * frame_size + headroom;
        auto* meta = reinterpret_cast<xcap_meta*>(area.data() + addr - sizeof(xcap_meta));
        meta->rx_ts_ns = ts;
        meta->rx_queue = ch->queue;
        meta->magic = stamped ? XCAP_META_MAGIC : 0;
        std::memset(area.data() + addr, fill, len);
        ASSERT_TRUE(ch->handoff.push(rx_desc{addr, len, 0}));
    }
};

struct record {
    uint64_t ts_ns;
    uint32_t caplen;
    uint32_t len;
    uint8_t first;
};

// Runs the writer into a temporary pcap file and parses what came out.
struct harness {
    std::string path;
    std::unique_ptr<savefile_set> files;
    std::unique_ptr<capture_writer> writer;

    harness(std::vector<fake_queue*> queues, writer_config cfg = {}, uint32_t snaplen = 262144) {
        char tmpl[] = "/tmp/xcap-writer-test-XXXXXX";
        int fd = mkstemp(tmpl);
        EXPECT_GE(fd, 0);
        close(fd);
        path = tmpl;
        savefile_config fc;
        fc.path = path;
        interface_description iface;
        iface.snaplen = snaplen;
        files = std::make_unique<savefile_set>(fc, section_description{}, std::vector<interface_description>{iface});
        std::vector<queue_channel*> chans;
        for (auto* q : queues) {
            chans.push_back(q->ch.get());
        }
        writer = std::make_unique<capture_writer>(chans, *files, cfg);
    }
    ~harness() { unlink(path.c_str()); }

    std::vector<record> records() {
        files->flush();
        std::vector<uint8_t> b;
        int fd = open(path.c_str(), O_RDONLY);
        uint8_t buf[65536];
        ssize_t n;
        while ((n = read(fd, buf, sizeof(buf))) > 0) {
            b.insert(b.end(), buf, buf + n);
        }
        close(fd);
        std::vector<record> r;
        size_t off = 24;
        while (off + 16 <= b.size()) {
            pcap_record_header h;
            std::memcpy(&h, b.data() + off, 16);
            r.push_back({uint64_t(h.ts_sec) * 1'000'000'000 + h.ts_frac, h.caplen, h.len, b[off + 16]});
            off += 16 + h.caplen;
        }
        return r;
    }
};

}  // namespace

TEST(Writer, SingleQueueKeepsOrderAndReturnsEveryFrame) {
    fake_queue q(0);
    for (int i = 0; i < 10; ++i) {
        q.deliver(1000 + uint64_t(i), uint8_t(i), 60 + uint32_t(i));
    }
    harness h({&q});
    EXPECT_EQ(h.writer->cycle(false), 10u);
    auto r = h.records();
    ASSERT_EQ(r.size(), 10u);
    for (int i = 0; i < 10; ++i) {
        EXPECT_EQ(r[i].first, i);
        EXPECT_EQ(r[i].len, 60u + uint32_t(i));
        EXPECT_EQ(r[i].ts_ns, 1000u + uint64_t(i));
    }
    EXPECT_EQ(q.ch->returns.read_available(), 10u);
    uint64_t addr = 0;
    ASSERT_TRUE(q.ch->returns.pop(addr));
    EXPECT_EQ(addr % frame_size, 0u) << "frames go back to the fill ring aligned";
    EXPECT_EQ(h.writer->counters().written.load(), 10u);
}

TEST(Writer, MergesQueuesByTimestamp) {
    fake_queue a(0), b(1);
    // Interleaved timestamps, far in the past, so the merge window is no obstacle.
    for (int i = 0; i < 5; ++i) {
        a.deliver(uint64_t(10 + 2 * i), uint8_t('a'), 60);
        b.deliver(uint64_t(11 + 2 * i), uint8_t('b'), 60);
    }
    harness h({&a, &b});
    h.writer->cycle(false);
    auto r = h.records();
    ASSERT_EQ(r.size(), 10u);
    for (size_t i = 0; i < r.size(); ++i) {
        EXPECT_EQ(r[i].ts_ns, 10 + i);
        EXPECT_EQ(r[i].first, i % 2 ? 'b' : 'a');
    }
}

TEST(Writer, HoldsPacketsWhileAnotherQueueHasOneInFlight) {
    fake_queue a(0), b(1);
    const uint64_t now = uint64_t(monotonic_ns());
    b.stamp_in_flight();  // b's program counted a packet it has not published yet
    a.deliver(now, 'a', 60);
    writer_config cfg;
    cfg.merge_window_ns = 10'000'000'000;  // 10 s, so the test cannot race the clock
    harness h({&a, &b}, cfg);
    h.writer->cycle(false);
    EXPECT_EQ(h.writer->counters().written.load(), 0u);
    b.deliver(now - 5, 'b', 60);  // the older packet from b shows up
    h.writer->cycle(false);
    // b's packet is older than a's and goes first; then b has delivered all
    // it was issued, so a's follows.
    EXPECT_EQ(h.writer->counters().written.load(), 2u);
    auto r = h.records();
    ASSERT_EQ(r.size(), 2u);
    EXPECT_EQ(r[0].first, 'b');
    EXPECT_EQ(r[1].first, 'a');
}

TEST(Writer, DrainingLiftsTheWaitForAPacketInFlight) {
    fake_queue a(0), b(1);
    b.stamp_in_flight();
    a.deliver(uint64_t(monotonic_ns()), 'a', 60);
    writer_config cfg;
    cfg.merge_window_ns = 10'000'000'000;
    harness h({&a, &b}, cfg);
    h.writer->cycle(false);
    EXPECT_EQ(h.writer->counters().written.load(), 0u);
    h.writer->cycle(true);
    EXPECT_EQ(h.writer->counters().written.load(), 1u);
}

TEST(Writer, QuietQueueReleasesOthersAtOnce) {
    fake_queue a(0), b(1);
    b.deliver(1, 'b', 60);  // b had traffic, all of it delivered
    a.deliver(uint64_t(monotonic_ns()), 'a', 60);
    writer_config cfg;
    cfg.merge_window_ns = 10'000'000'000;
    harness h({&a, &b}, cfg);
    h.writer->cycle(false);  // b: issued == taken, RX ring and handoff empty
    EXPECT_EQ(h.writer->counters().written.load(), 2u);
}

TEST(Writer, PacketsTheSocketDroppedDoNotHoldOthers) {
    fake_queue a(0), b(1);
    b.stamp_in_flight();
    b.stamp_in_flight();
    b.in_flight = 0;
    b.ch->lost = 2;  // the worker sampled two socket drops: they never come
    a.deliver(uint64_t(monotonic_ns()), 'a', 60);
    writer_config cfg;
    cfg.merge_window_ns = 10'000'000'000;
    harness h({&a, &b}, cfg);
    h.writer->cycle(false);
    EXPECT_EQ(h.writer->counters().written.load(), 1u);
}

TEST(Writer, BusyRingHoldsOthersUntilItsWorkerCatchesUp) {
    fake_queue a(0), b(1);
    a.deliver(uint64_t(monotonic_ns()), 'a', 60);
    b.rx_prod = 7;  // b's worker has not taken 2 packets off its RX ring yet
    b.rx_cons = 5;
    writer_config cfg;
    cfg.merge_window_ns = 10'000'000'000;
    harness h({&a, &b}, cfg);
    h.writer->cycle(false);
    EXPECT_EQ(h.writer->counters().written.load(), 0u);
    b.rx_cons = 7;  // caught up (and had nothing older after all)
    h.writer->cycle(false);
    EXPECT_EQ(h.writer->counters().written.load(), 1u);
}

TEST(Writer, WaitForABusyQueueIsBoundedByTheWindow) {
    fake_queue a(0), b(1);
    a.deliver(uint64_t(monotonic_ns()) - 2'000'000, 'a', 60);  // 2 ms old
    b.rx_prod = 1;
    b.stamp_in_flight();
    writer_config cfg;
    cfg.merge_window_ns = 1'000'000;  // 1 ms
    harness h({&a, &b}, cfg);
    h.writer->cycle(false);
    EXPECT_EQ(h.writer->counters().written.load(), 1u);
}

TEST(Writer, WaitEndsWhenTheHeadsQueueBacksUp) {
    fake_queue a(0), b(1);
    b.stamp_in_flight();
    const uint64_t now = uint64_t(monotonic_ns());
    writer_config cfg;
    cfg.merge_window_ns = 10'000'000'000;
    cfg.merge_backlog_frames = 8;
    harness h({&a, &b}, cfg);
    for (int i = 0; i < 7; ++i) {
        a.deliver(now + uint64_t(i), 'a', 60);
    }
    h.writer->cycle(false);
    EXPECT_EQ(h.writer->counters().written.load(), 0u) << "b has a packet in flight";
    h.writer->cycle(false);
    a.deliver(now + 100, 'a', 60);  // one waits in the handoff ring (7 in the writer's stage): fewer than 8
    h.writer->cycle(false);
    EXPECT_EQ(h.writer->counters().written.load(), 0u);
    for (int i = 0; i < 8; ++i) {
        a.deliver(now + 200 + uint64_t(i), 'a', 60);
    }
    h.writer->cycle(false);
    EXPECT_GT(h.writer->counters().written.load(), 0u) << "a backed up: its frames must go back";
}

TEST(Writer, CountLimitStopsWritingButStillReturnsFrames) {
    fake_queue q(0);
    for (int i = 0; i < 8; ++i) {
        q.deliver(uint64_t(i), uint8_t(i), 60);
    }
    writer_config cfg;
    cfg.count_limit = 3;
    harness h({&q}, cfg);
    h.writer->cycle(false);
    EXPECT_TRUE(h.writer->limit_reached());
    EXPECT_EQ(h.records().size(), 3u);
    EXPECT_EQ(h.writer->counters().over_limit.load(), 5u);
    EXPECT_EQ(q.ch->returns.read_available(), 8u);
}

TEST(Writer, SnaplenCutIsCountedAndOriginalLengthKept) {
    fake_queue q(0);
    q.deliver(1, 1, 1000);
    q.deliver(2, 2, 50);
    harness h({&q}, {}, 100);
    h.writer->cycle(false);
    auto r = h.records();
    ASSERT_EQ(r.size(), 2u);
    EXPECT_EQ(r[0].caplen, 100u);
    EXPECT_EQ(r[0].len, 1000u);
    EXPECT_EQ(r[1].caplen, 50u);
    EXPECT_EQ(h.writer->counters().snaplen_cut.load(), 1u);
}

TEST(Writer, UnstampedPacketsAreStampedNowAndCounted) {
    fake_queue q(0);
    const uint64_t before = uint64_t(monotonic_ns());
    q.deliver(0, 7, 60, false);
    harness h({&q});
    h.writer->cycle(false);
    auto r = h.records();
    ASSERT_EQ(r.size(), 1u);
    EXPECT_GE(r[0].ts_ns, before);
    EXPECT_EQ(h.writer->counters().meta_missing.load(), 1u);
}

TEST(Writer, RunEndsWhenWorkersAreDoneAndRingsEmpty) {
    fake_queue a(0), b(1);
    a.deliver(5, 'a', 60);
    b.deliver(uint64_t(monotonic_ns()), 'b', 60);
    a.ch->worker_done = true;
    b.ch->worker_done = true;
    harness h({&a, &b});
    h.writer->run();  // would hang if it did not drain and stop
    EXPECT_TRUE(h.writer->finished());
    EXPECT_EQ(h.records().size(), 2u);
}
