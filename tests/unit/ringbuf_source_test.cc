// The ring-buffer source over a ring in plain memory whose kernel side the
// test plays (reserve with the busy bit, commit, discard, wrap), and the
// writer taking records from it into a pcapng file read back by libpcap.
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <vector>

#include "bpf/xcap_abi.h"
#include "sources/ringbuf_source.h"
#include "writer/writer.h"
#include "pcap/reader.h"
#include "pcap/savefile.h"

using namespace xcap;

namespace {

// The kernel's side of a BPF ring buffer: the data area is kept twice in a
// row, as the kernel maps its pages twice, so a wrapping record reads whole.
struct fake_ring {
    explicit fake_ring(uint64_t size) : size(size), data(2 * size, 0) {}

    uint64_t size;
    std::vector<uint8_t> data;
    uint64_t consumer = 0;
    uint64_t producer = 0;

    ringbuf_source::plain_ring view() { return {&consumer, &producer, data.data(), size}; }

    void put(uint64_t pos, const void* p, size_t n) {
        const auto* b = static_cast<const uint8_t*>(p);
        for (size_t i = 0; i < n; ++i) {
            const uint64_t at = (pos + i) & (size - 1);
            data[at] = b[i];
            data[at + size] = b[i];
        }
    }
    void header(uint64_t pos, uint32_t word) { put(pos, &word, 4); }

    // Reserves a record of `pkt_len` bytes (busy), returns its position, or
    // UINT64_MAX when the ring has no room (as bpf_ringbuf_reserve fails).
    uint64_t reserve(uint32_t pkt_len) {
        const uint32_t len = uint32_t(sizeof(xcap_ring_record)) + pkt_len;
        const uint64_t fp = (uint64_t(len) + BPF_RINGBUF_HDR_SZ + 7) & ~uint64_t(7);
        if (producer + fp - consumer > size) {
            return UINT64_MAX;
        }
        const uint64_t pos = producer;
        header(pos, len | BPF_RINGBUF_BUSY_BIT);
        producer += fp;
        return pos;
    }
    void fill(uint64_t pos, uint64_t ts, uint32_t wire_len, const std::vector<uint8_t>& pkt, uint32_t flags = XCAP_RECORD_TAP,
              int32_t action = XDP_PASS, uint64_t id = 0, uint32_t prog = 0, uint32_t ifindex = 7, uint32_t queue = 0) {
        xcap_ring_record r{};
        r.ts_ns = ts;
        r.packet_id = id;
        r.wire_len = wire_len;
        r.cap_len = uint32_t(pkt.size());
        r.ifindex = ifindex;
        r.rx_queue = queue;
        r.prog_id = prog;
        r.action = action;
        r.flags = flags;
        put(pos + BPF_RINGBUF_HDR_SZ, &r, sizeof(r));
        put(pos + BPF_RINGBUF_HDR_SZ + sizeof(r), pkt.data(), pkt.size());
    }
    void commit(uint64_t pos, uint32_t pkt_len) { header(pos, uint32_t(sizeof(xcap_ring_record)) + pkt_len); }
    void discard(uint64_t pos, uint32_t pkt_len) {
        header(pos, (uint32_t(sizeof(xcap_ring_record)) + pkt_len) | BPF_RINGBUF_DISCARD_BIT);
    }
    // Reserve, fill and commit in one go.
    bool push(uint64_t ts, const std::vector<uint8_t>& pkt, uint32_t wire_len = 0) {
        const uint64_t pos = reserve(uint32_t(pkt.size()));
        if (pos == UINT64_MAX) {
            return false;
        }
        fill(pos, ts, wire_len ? wire_len : uint32_t(pkt.size()), pkt);
        commit(pos, uint32_t(pkt.size()));
        return true;
    }
};

std::vector<uint8_t> bytes_of(uint8_t v, size_t n) { return std::vector<uint8_t>(n, v); }

}  // namespace

TEST(RingbufSource, ReadsCommittedRecordsInPlaceAndStopsAtABusyOne) {
    fake_ring ring(4096);
    ringbuf_source src(ring.view(), {{{7, 2}}, {}});
    ASSERT_TRUE(ring.push(100, bytes_of(0xaa, 60), 1500));
    const uint64_t busy = ring.reserve(40);
    ASSERT_NE(busy, UINT64_MAX);

    record_ref r[8];
    ASSERT_EQ(src.peek(r, 8), 1u);
    EXPECT_EQ(r[0].ts_ns, 100u);
    EXPECT_EQ(r[0].len, 60u);
    EXPECT_EQ(r[0].wire_len, 1500u);
    EXPECT_EQ(r[0].interface, 2u) << "ifindex 7 is the output's interface 2";
    EXPECT_EQ(r[0].verdict, XDP_PASS);
    EXPECT_EQ(r[0].data[0], 0xaa);
    EXPECT_GE(r[0].data, ring.data.data()) << "read in place, not copied";
    EXPECT_LT(r[0].data, ring.data.data() + ring.data.size());
    EXPECT_EQ(src.quiet(), packet_source::quiet_state::in_flight) << "a reserved record is not committed yet";
    EXPECT_EQ(src.peek(r + 1, 7), 0u);

    src.release(r, 1);
    EXPECT_EQ(ring.consumer, busy) << "the released record's space goes back, the busy one is held";

    ring.fill(busy, 200, 40, bytes_of(0xbb, 40));
    ring.commit(busy, 40);
    EXPECT_EQ(src.quiet(), packet_source::quiet_state::available);
    ASSERT_EQ(src.peek(r, 8), 1u);
    EXPECT_EQ(r[0].ts_ns, 200u);
    EXPECT_EQ(r[0].wire_len, 0u) << "whole packet: no separate wire length";
    src.release(r, 1);
    EXPECT_EQ(ring.consumer, ring.producer);
    EXPECT_EQ(src.quiet(), packet_source::quiet_state::quiet);
}

TEST(RingbufSource, DiscardedRecordsAreSkippedAndTheirSpaceReturned) {
    fake_ring ring(4096);
    ringbuf_source src(ring.view(), {});
    const uint64_t a = ring.reserve(16);
    ring.discard(a, 16);
    ASSERT_TRUE(ring.push(5, bytes_of(1, 16)));
    const uint64_t c = ring.reserve(16);
    ring.discard(c, 16);

    record_ref r[4];
    ASSERT_EQ(src.peek(r, 4), 1u);
    EXPECT_EQ(r[0].ts_ns, 5u);
    src.release(r, 1);
    EXPECT_LT(ring.consumer, ring.producer) << "the trailing discard is past the last record";
    EXPECT_EQ(src.peek(r, 4), 0u);
    EXPECT_EQ(ring.consumer, ring.producer) << "with nothing outstanding, the discard's space goes back too";
}

TEST(RingbufSource, ARecordThatWrapsReadsWhole) {
    fake_ring ring(1024);
    ringbuf_source src(ring.view(), {});
    record_ref r[4];
    // Move the positions near the end of the data area.
    for (int i = 0; i < 3; ++i) {
        ASSERT_TRUE(ring.push(uint64_t(i), bytes_of(uint8_t(i), 200)));
        ASSERT_EQ(src.peek(r, 4), 1u);
        src.release(r, 1);
    }
    std::vector<uint8_t> pkt(300);
    for (size_t i = 0; i < pkt.size(); ++i) {
        pkt[i] = uint8_t(i * 7);
    }
    ASSERT_TRUE(ring.push(9, pkt));
    ASSERT_GT((ring.producer & 1023), 0u);
    ASSERT_LT((ring.producer & 1023), 300u) << "the test's record must cross the end of the area";
    ASSERT_EQ(src.peek(r, 4), 1u);
    EXPECT_EQ(std::vector<uint8_t>(r[0].data, r[0].data + r[0].len), pkt);
}

TEST(RingbufSource, LossesAreAttributedToTheNextRecord) {
    fake_ring ring(4096);
    uint64_t lost = 0;
    ringbuf_source src(ring.view(), {{}, [&] { return lost; }});
    lost = 5;
    src.sample_drops();
    ASSERT_TRUE(ring.push(1, bytes_of(1, 10)));
    ASSERT_TRUE(ring.push(2, bytes_of(2, 10)));
    record_ref r[4];
    ASSERT_EQ(src.peek(r, 4), 2u);
    EXPECT_EQ(r[0].drops_before, 5u);
    EXPECT_EQ(r[1].drops_before, 0u);
}

TEST(RingbufSource, TraceRecordsNameTheirSideAndProgram) {
    fake_ring ring(4096);
    ringbuf_source src(ring.view(), {});
    src.name_program(42, "xdp_lb");
    uint64_t p = ring.reserve(20);
    ring.fill(p, 1, 20, bytes_of(1, 20), XCAP_RECORD_ENTRY, -1, 9, 42);
    ring.commit(p, 20);
    p = ring.reserve(20);
    ring.fill(p, 2, 20, bytes_of(1, 20), XCAP_RECORD_EXIT, XDP_DROP, 9, 43);
    ring.commit(p, 20);
    record_ref r[4];
    ASSERT_EQ(src.peek(r, 4), 2u);
    EXPECT_STREQ(r[0].comment, "entry xdp_lb");
    EXPECT_EQ(r[0].verdict, -1);
    EXPECT_EQ(r[0].packet_id, 9u);
    EXPECT_STREQ(r[1].comment, "exit prog 43");
    EXPECT_EQ(r[1].verdict, XDP_DROP);
    EXPECT_EQ(r[1].packet_id, 9u);
}

TEST(RingbufSource, WriterTurnsRecordsIntoPcapngWithOriginalLengths) {
    fake_ring ring(1 << 16);
    ringbuf_source src(ring.view(), {});
    char tmpl[] = "/tmp/xcap-ring-test-XXXXXX";
    int fd = mkstemp(tmpl);
    ASSERT_GE(fd, 0);
    close(fd);
    const std::string path = tmpl;
    {
        savefile_config fc;
        fc.path = path;
        fc.format = file_format::pcapng;
        savefile_set files(fc, section_description{}, {interface_description{}});
        capture_writer writer({&src}, files, writer_config{});
        for (uint32_t i = 0; i < 100; ++i) {
            ASSERT_TRUE(ring.push(1000 + i, bytes_of(uint8_t(i), 64 + i), 64 + i + (i % 3) * 100));
        }
        EXPECT_EQ(writer.cycle(false), 100u);
        EXPECT_EQ(ring.consumer, ring.producer) << "every record handed back";
        EXPECT_EQ(writer.counters().written.load(), 100u);
    }
    capture_reader rd(path);
    read_packet p;
    uint32_t i = 0;
    while (rd.next(p)) {
        EXPECT_EQ(p.caplen, 64 + i);
        EXPECT_EQ(p.len, 64 + i + (i % 3) * 100) << i;
        EXPECT_EQ(p.data[0], uint8_t(i));
        ++i;
    }
    EXPECT_EQ(i, 100u);
    unlink(path.c_str());
}
