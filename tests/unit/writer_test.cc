// The capture writer driven by hand over AF_XDP sources whose kernel side is
// played by the test (plain rings): order, merge, frame return, counters.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <memory>
#include <random>
#include <thread>
#include <utility>
#include <vector>

#include "writer/writer.h"
#include "sources/xsk_source.h"
#include "engine/clock.h"
#include "pcap/pcap_writer.h"
#include "pcap/savefile.h"
#include "plain_rings.h"

using namespace xcap;
using xcap::test::plain_queue;

namespace {

// A queue as the writer sees it: the plain rings and an xsk_source over them.
struct fake_queue {
    plain_queue kernel;
    std::unique_ptr<xsk_source> source;

    explicit fake_queue(uint32_t q, uint32_t frames = 64) : kernel(frames) {
        source = std::make_unique<xsk_source>(
            xsk_source::rings{&kernel.rx, &kernel.fill, kernel.area(), kernel.frame_mask(), q, &kernel.drops},
            &kernel.issued);
    }
    void deliver(uint64_t ts, uint8_t fill, uint32_t len, bool stamped = true) {
        ASSERT_TRUE(kernel.deliver(ts, fill, len, stamped));
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
        std::vector<packet_source*> sources;
        for (auto* q : queues) {
            sources.push_back(q->source.get());
        }
        writer = std::make_unique<capture_writer>(sources, *files, cfg);
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
    EXPECT_EQ(q.kernel.fill_level(), 54u);
    harness h({&q});
    EXPECT_EQ(h.writer->cycle(false), 10u);
    auto r = h.records();
    ASSERT_EQ(r.size(), 10u);
    for (int i = 0; i < 10; ++i) {
        EXPECT_EQ(r[i].first, i);
        EXPECT_EQ(r[i].len, 60u + uint32_t(i));
        EXPECT_EQ(r[i].ts_ns, 1000u + uint64_t(i));
    }
    EXPECT_EQ(q.kernel.fill_level(), 64u) << "every frame is back on the fill ring";
    EXPECT_EQ(q.kernel.rx_level(), 0u) << "every descriptor is released";
    EXPECT_EQ(h.writer->counters().written.load(), 10u);
    EXPECT_EQ(q.source->counters().received.load(), 10u);
}

TEST(Writer, FramesGoBackAlignedAndAreReused) {
    fake_queue q(0, 8);
    harness h({&q});
    // Three rounds through an 8-frame UMEM: only possible if frames return.
    for (int round = 0; round < 3; ++round) {
        for (int i = 0; i < 8; ++i) {
            q.deliver(uint64_t(round * 8 + i), uint8_t(round * 8 + i), 60);
        }
        EXPECT_EQ(h.writer->cycle(false), 8u);
    }
    auto r = h.records();
    ASSERT_EQ(r.size(), 24u);
    for (size_t i = 0; i < r.size(); ++i) {
        EXPECT_EQ(r[i].first, i);
    }
    EXPECT_EQ(q.kernel.drops, 0u);
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

// The writer hands the output runs of records from one queue at a time (as
// long as no other queue has an older head): the file must be in exactly
// the order one-record-at-a-time selection gives, ties to the lower queue,
// across batches longer than a stage (256) and runs of every length.
TEST(Writer, RunsOfOneQueueKeepTheMergeOrderExactly) {
    constexpr int queues = 3;
    constexpr int per_queue = 700;
    std::vector<std::unique_ptr<fake_queue>> qs;
    std::vector<fake_queue*> ptrs;
    for (int q = 0; q < queues; ++q) {
        qs.push_back(std::make_unique<fake_queue>(uint32_t(q), 1024));
        ptrs.push_back(qs.back().get());
    }
    std::mt19937 rng(20261123);
    std::vector<std::pair<uint64_t, int>> expected;  // (timestamp, queue), in the order they must come out
    for (int q = 0; q < queues; ++q) {
        uint64_t ts = 1000;
        for (int i = 0; i < per_queue; ++i) {
            // Mostly small steps (ties within and across queues), now and
            // then a jump that gives one queue a long run of its own.
            const uint32_t r = rng() % 100;
            ts += r < 30 ? 0 : r < 90 ? r % 4 : 200 + r;
            qs[size_t(q)]->deliver(ts, uint8_t(q), 60 + uint32_t(i % 7));
            expected.emplace_back(ts, q);
        }
    }
    std::stable_sort(expected.begin(), expected.end());
    harness h(ptrs);
    while (h.writer->cycle(false) > 0) {
    }
    auto r = h.records();
    ASSERT_EQ(r.size(), expected.size());
    for (size_t i = 0; i < r.size(); ++i) {
        ASSERT_EQ(r[i].ts_ns, expected[i].first) << "record " << i;
        ASSERT_EQ(int(r[i].first), expected[i].second) << "record " << i << ": ties go to the lower queue";
    }
    for (auto* q : ptrs) {
        EXPECT_EQ(q->kernel.rx_level(), 0u);
        EXPECT_EQ(q->kernel.fill_level(), 1024u) << "every frame back";
    }
}

TEST(Writer, HoldsPacketsWhileAnotherQueueHasOneInFlight) {
    fake_queue a(0), b(1);
    const uint64_t now = uint64_t(monotonic_ns());
    b.kernel.stamp_in_flight();  // b's program counted a packet it has not published yet
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
    b.kernel.stamp_in_flight();
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
    h.writer->cycle(false);  // b: everything issued was peeked, its ring is empty
    EXPECT_EQ(h.writer->counters().written.load(), 2u);
}

TEST(Writer, PacketsTheSocketDroppedDoNotHoldOthers) {
    fake_queue a(0), b(1, 2);
    b.deliver(1, 'b', 60);
    b.deliver(2, 'b', 60);
    EXPECT_FALSE(b.kernel.deliver(3, 'b', 60)) << "b's two frames are out: a drop";
    writer_config cfg;
    cfg.merge_window_ns = 10'000'000'000;
    harness h({&a, &b}, cfg);
    h.writer->cycle(false);
    a.deliver(uint64_t(monotonic_ns()), 'a', 60);
    usleep(200);  // past the 100 µs between two samples of b's drop counter
    h.writer->cycle(false);
    EXPECT_EQ(h.writer->counters().written.load(), 3u) << "b's dropped packet will never come: a's goes";
}

TEST(Writer, DropsAreAttributedToTheNextPacket) {
    fake_queue q(0, 2);
    harness h({&q});
    q.deliver(1, 1, 60);
    q.deliver(2, 2, 60);
    EXPECT_FALSE(q.kernel.deliver(3, 3, 60));
    EXPECT_FALSE(q.kernel.deliver(4, 4, 60));
    h.writer->cycle(false);  // gives both frames back
    q.source->sample_drops();
    q.deliver(5, 5, 60);
    h.writer->cycle(false);
    EXPECT_EQ(h.writer->counters().written.load(), 3u);
    // The drop count travels with the record (pcapng's epb_dropcount); the
    // capture's own tests read it back from files.
    EXPECT_EQ(q.kernel.drops, 2u);
}

TEST(Writer, WaitForAQueueInFlightIsBoundedByTheWindow) {
    fake_queue a(0), b(1);
    a.deliver(uint64_t(monotonic_ns()) - 2'000'000, 'a', 60);  // 2 ms old
    b.kernel.stamp_in_flight();
    writer_config cfg;
    cfg.merge_window_ns = 1'000'000;  // 1 ms
    harness h({&a, &b}, cfg);
    h.writer->cycle(false);
    EXPECT_EQ(h.writer->counters().written.load(), 1u);
}

TEST(Writer, WaitEndsWhenTheHeadsQueueBacksUp) {
    fake_queue a(0), b(1);
    b.kernel.stamp_in_flight();
    const uint64_t now = uint64_t(monotonic_ns());
    writer_config cfg;
    cfg.merge_window_ns = 10'000'000'000;
    cfg.merge_backlog = 8;
    harness h({&a, &b}, cfg);
    for (int i = 0; i < 7; ++i) {
        a.deliver(now + uint64_t(i), 'a', 60);
    }
    h.writer->cycle(false);
    EXPECT_EQ(h.writer->counters().written.load(), 0u) << "b has a packet in flight";
    for (int i = 0; i < 7; ++i) {
        a.deliver(now + 100 + uint64_t(i), 'a', 60);
    }
    h.writer->cycle(false);
    EXPECT_EQ(h.writer->counters().written.load(), 0u) << "7 wait on a's ring: fewer than 8";
    a.deliver(now + 200, 'a', 60);
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
    EXPECT_EQ(q.kernel.fill_level(), 64u);
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

TEST(Writer, RunDrainsEverythingAfterAStop) {
    fake_queue a(0), b(1);
    a.deliver(5, 'a', 60);
    b.kernel.stamp_in_flight();  // never published: the stop's drain must not wait for it
    b.deliver(uint64_t(monotonic_ns()), 'b', 60);
    b.kernel.stamp_in_flight();
    harness h({&a, &b});
    stop_event stop;
    stop.request();
    h.writer->run(stop);  // would hang if it did not drain and stop
    EXPECT_TRUE(h.writer->finished());
    EXPECT_EQ(h.records().size(), 2u);
}

namespace {

// The program's doorbell as an eventfd: readable once a queue's count
// reached its wake_at.
class test_doorbell final : public doorbell {
public:
    test_doorbell() : _fd(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}
    ~test_doorbell() override { close(_fd); }
    int fd() const override { return _fd; }
    void clear() override {
        uint64_t v;
        (void)!read(_fd, &v, sizeof(v));
    }

private:
    int _fd;
};

// The writer's thread, stopped and joined on the way out.
struct running_writer {
    harness& h;
    stop_event stop;
    std::thread t;
    explicit running_writer(harness& hh) : h(hh), t([this] { h.writer->run(stop); }) {}
    ~running_writer() {
        stop.request();
        t.join();
    }
    // Waits (up to 5 s) until the writer has written n records.
    bool written(uint64_t n) {
        for (int i = 0; i < 500 && h.writer->counters().written.load() < n; ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        return h.writer->counters().written.load() >= n;
    }
};

struct belled_queue : fake_queue {
    test_doorbell bell;
    explicit belled_queue(uint32_t q) : fake_queue(q) {
        kernel.bell_fd = bell.fd();
        source->set_doorbell(&kernel.wake_at, &bell);
    }
};

}  // namespace

// With a doorbell the writer does not look at the queue until the batch it
// asked for has gathered (no naps while fewer wait), then takes all of it.
TEST(WriterDoorbell, SleepsUntilTheBatchHasGatheredThenTakesIt) {
    belled_queue q(0);
    writer_config cfg;
    cfg.wake_batch = 8;
    cfg.wake_latency_ns = 60'000'000'000;  // never, within the test
    harness h({&q}, cfg);
    running_writer w(h);
    // Armed (asleep, or about to be): from here the writer waits for 8 more.
    for (int i = 0; i < 500 && __atomic_load_n(&q.kernel.wake_at, __ATOMIC_SEQ_CST) == 0; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ASSERT_EQ(__atomic_load_n(&q.kernel.wake_at, __ATOMIC_SEQ_CST), 8u);
    for (int i = 0; i < 7; ++i) {
        q.deliver(uint64_t(monotonic_ns()), uint8_t('a' + i), 60);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    EXPECT_EQ(h.writer->counters().written.load(), 0u) << "woke before the batch gathered";
    q.deliver(uint64_t(monotonic_ns()), 'h', 60);  // the 8th rings
    ASSERT_TRUE(w.written(8));
    EXPECT_GE(h.writer->counters().rung.load(), 1u);
}

// Packets too few for a batch still reach the file within the latency bound.
TEST(WriterDoorbell, SparsePacketsWaitNoLongerThanTheLatencyBound) {
    belled_queue q(0);
    writer_config cfg;
    cfg.wake_batch = 1000;
    cfg.wake_latency_ns = 50'000'000;
    harness h({&q}, cfg);
    running_writer w(h);
    for (int i = 0; i < 3; ++i) {
        q.deliver(uint64_t(monotonic_ns()), 'x', 60);
    }
    ASSERT_TRUE(w.written(3));
    EXPECT_EQ(h.writer->counters().rung.load(), 0u) << "3 of 1000 cannot have rung";
}

// Idle, the writer stops waking on its latency bound and waits for the next
// packet, which wakes it at once.
TEST(WriterDoorbell, AnIdleCaptureWaitsForTheNextPacketWithoutATimer) {
    belled_queue q(0);
    writer_config cfg;
    cfg.wake_batch = 1000;
    cfg.wake_latency_ns = 20'000'000;
    harness h({&q}, cfg);
    running_writer w(h);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // ten latency bounds
    const uint64_t sleeps = h.writer->counters().sleeps.load();
    EXPECT_LE(sleeps, 3u) << "woke on its timer while idle";
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    EXPECT_EQ(h.writer->counters().sleeps.load(), sleeps) << "woke while idle";
    q.deliver(uint64_t(monotonic_ns()), 'y', 60);
    ASSERT_TRUE(w.written(1));
    EXPECT_EQ(h.writer->counters().rung.load(), 1u);
}

// A source without a doorbell (a tap ring, plain rings) keeps every source
// on the nap-and-poll path: nothing waits for a bell that cannot ring.
TEST(WriterDoorbell, OneSourceWithoutADoorbellMeansNapsForAll) {
    belled_queue a(0);
    fake_queue b(1);
    writer_config cfg;
    cfg.wake_batch = 1000;
    cfg.wake_latency_ns = 60'000'000'000;
    harness h({&a, &b}, cfg);
    running_writer w(h);
    a.deliver(uint64_t(monotonic_ns()), 'a', 60);
    ASSERT_TRUE(w.written(1));
    EXPECT_EQ(h.writer->counters().rung.load(), 0u);
}
