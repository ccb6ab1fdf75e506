// Exact bytes of every pcapng block xcap writes, and round trips through the
// reader (libpcap).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "pcap/output.h"
#include "pcap/pcapng_writer.h"
#include "pcap/reader.h"
#include "pcap/savefile.h"

using namespace xcap;

namespace {

// Little-endian builders for the expected bytes (the test machine is x86).
struct bytes {
    std::vector<uint8_t> b;
    bytes& u8(uint8_t v) { b.push_back(v); return *this; }
    bytes& u16(uint16_t v) { return u8(uint8_t(v)).u8(uint8_t(v >> 8)); }
    bytes& u32(uint32_t v) { return u16(uint16_t(v)).u16(uint16_t(v >> 16)); }
    bytes& u64(uint64_t v) { return u32(uint32_t(v)).u32(uint32_t(v >> 32)); }
    bytes& str(const std::string& s) { b.insert(b.end(), s.begin(), s.end()); return *this; }
    bytes& zeros(size_t n) { b.insert(b.end(), n, 0); return *this; }
};

std::vector<uint8_t> capture_bytes(const std::function<void(output&)>& fn) {
    int fds[2];
    EXPECT_EQ(pipe2(fds, O_NONBLOCK), 0);
    fcntl(fds[0], F_SETPIPE_SZ, 1 << 20);
    {
        output out(fds[1], "pipe");
        fn(out);
        out.flush();
    }
    std::vector<uint8_t> got;
    uint8_t buf[65536];
    ssize_t n;
    while ((n = read(fds[0], buf, sizeof(buf))) > 0) {
        got.insert(got.end(), buf, buf + n);
    }
    close(fds[0]);
    close(fds[1]);
    return got;
}

section_description test_section() { return {"Test CPU", "Linux 9.9", "xcap test"}; }

interface_description test_iface() {
    interface_description i;
    i.name = "eth7";
    i.description = "queues 0,1";
    i.hardware = "driver x";
    i.speed_bps = 10'000'000'000ull;
    i.snaplen = 128;
    return i;
}

// The SHB and IDB the writer emits for test_section() and test_iface().
std::vector<uint8_t> expected_header() {
    bytes e;
    // SHB: 24 fixed bytes, options padded to 4, opt_endofopt, trailing length.
    bytes shb_opts;
    shb_opts.u16(2).u16(8).str("Test CPU");
    shb_opts.u16(3).u16(9).str("Linux 9.9").zeros(3);
    shb_opts.u16(4).u16(9).str("xcap test").zeros(3);
    shb_opts.u32(0);  // opt_endofopt
    uint32_t shb_len = uint32_t(24 + shb_opts.b.size() + 4);
    e.u32(0x0A0D0D0A).u32(shb_len).u32(0x1A2B3C4D).u16(1).u16(0).u64(UINT64_MAX);
    e.b.insert(e.b.end(), shb_opts.b.begin(), shb_opts.b.end());
    e.u32(shb_len);

    bytes idb_opts;
    idb_opts.u16(2).u16(4).str("eth7");
    idb_opts.u16(3).u16(10).str("queues 0,1").zeros(2);
    idb_opts.u16(9).u16(1).u8(9).zeros(3);
    idb_opts.u16(15).u16(8).str("driver x");
    idb_opts.u16(8).u16(8).u64(10'000'000'000ull);
    idb_opts.u32(0);
    uint32_t idb_len = uint32_t(16 + idb_opts.b.size() + 4);
    e.u32(1).u32(idb_len).u16(1).u16(0).u32(128);
    e.b.insert(e.b.end(), idb_opts.b.begin(), idb_opts.b.end());
    e.u32(idb_len);
    return e.b;
}

}  // namespace

TEST(Pcapng, SectionAndInterfaceBlocksExactly) {
    auto got = capture_bytes([](output& out) { pcapng_writer w(out, test_section(), {test_iface()}, true); });
    EXPECT_EQ(got, expected_header());
    EXPECT_EQ(got.size() % 4, 0u);
}

TEST(Pcapng, FilterOptionHasItsTypeByte) {
    auto iface = test_iface();
    iface.description = iface.hardware = "";
    iface.speed_bps = 0;
    iface.filter = "udp";
    auto got = capture_bytes([&](output& out) { pcapng_writer w(out, {}, {iface}, false); });
    // No SHB options at all: 28 bytes, no opt_endofopt.
    ASSERT_GE(got.size(), 28u);
    uint32_t shb_len;
    std::memcpy(&shb_len, got.data() + 4, 4);
    EXPECT_EQ(shb_len, 28u);
    bytes idb;
    idb.u32(1).u32(48).u16(1).u16(0).u32(128);  // 16 fixed + 3 options of 8 + end 4 + length 4
    idb.u16(2).u16(4).str("eth7");
    idb.u16(9).u16(1).u8(6).zeros(3);  // microseconds
    idb.u16(11).u16(4).u8(0).str("udp");
    idb.u32(0).u32(48);
    EXPECT_EQ(std::vector<uint8_t>(got.begin() + 28, got.end()), idb.b);
}

TEST(Pcapng, EnhancedPacketBlockWithEveryOption) {
    const uint8_t pkt[5] = {1, 2, 3, 4, 5};
    packet_meta m;
    m.queue = 3;
    m.packet_id = 0x1122334455ull;
    m.dropcount = 7;
    m.xdp_verdict = 4;
    const uint64_t ts = 0x0000000123456789ull;
    auto got = capture_bytes([&](output& out) {
        pcapng_writer w(out, test_section(), {test_iface()}, true);
        EXPECT_FALSE(w.write(ts, pkt, 5, m));
    });
    auto header = expected_header();
    ASSERT_GT(got.size(), header.size());
    bytes epb;
    const uint32_t total = 28 + 8 + 8 + 8 + 12 + 12 + 16 + 4 + 4;
    epb.u32(6).u32(total).u32(0).u32(0x1).u32(0x23456789).u32(5).u32(5);
    epb.u8(1).u8(2).u8(3).u8(4).u8(5).zeros(3);  // data padded to 4
    epb.u16(2).u16(4).u32(1);                    // epb_flags: inbound
    epb.u16(6).u16(4).u32(3);                    // epb_queue
    epb.u16(5).u16(8).u64(0x1122334455ull);      // epb_packetid
    epb.u16(4).u16(8).u64(7);                    // epb_dropcount
    epb.u16(7).u16(9).u8(2).u64(4).zeros(3);     // epb_verdict: eBPF XDP, XDP_REDIRECT
    epb.u32(0).u32(total);
    EXPECT_EQ(std::vector<uint8_t>(got.begin() + long(header.size()), got.end()), epb.b);
    // The -C bound's allowance covers every option and the largest padding.
    EXPECT_LE(total - 8 + 3, pcapng::epb_max_overhead);
}

TEST(Pcapng, EnhancedPacketBlockMinimalAndCut) {
    std::vector<uint8_t> pkt(200, 0xee);
    packet_meta m;  // no queue, no drops, no verdict
    auto got = capture_bytes([&](output& out) {
        pcapng_writer w(out, test_section(), {test_iface()}, false);
        EXPECT_TRUE(w.write(5'000'000'123ull, pkt.data(), 200, m));  // snaplen 128
    });
    // The EPB is the last block in the file.
    size_t off = got.size() - (28 + 128 + 8 + 12 + 4 + 4);
    bytes epb;
    const uint32_t total = 28 + 128 + 8 + 12 + 4 + 4;
    epb.u32(6).u32(total).u32(0).u32(0).u32(5'000'000).u32(128).u32(200);
    epb.b.insert(epb.b.end(), pkt.begin(), pkt.begin() + 128);
    epb.u16(2).u16(4).u32(1);
    epb.u16(5).u16(8).u64(0);
    epb.u32(0).u32(total);
    EXPECT_EQ(std::vector<uint8_t>(got.begin() + long(off), got.end()), epb.b);
}

TEST(Pcapng, EnhancedPacketBlockWithCommentAndOriginalLength) {
    // A ring-buffer source hands over the first bytes of a longer packet,
    // and trace names the record's side and program in a comment.
    const uint8_t pkt[6] = {1, 2, 3, 4, 5, 6};
    packet_meta m;
    m.wire_len = 1500;
    m.comment = "exit xdp_lb";  // 11 bytes, padded to 12
    m.xdp_verdict = 1;          // XDP_DROP
    auto got = capture_bytes([&](output& out) {
        pcapng_writer w(out, test_section(), {test_iface()}, true);
        EXPECT_TRUE(w.write(7, pkt, 6, m)) << "1500 bytes on the wire, 6 kept: cut";
    });
    const uint32_t total = 28 + 8 + 8 + 12 + 16 + 4 + 12 + 4 + 4;
    bytes epb;
    epb.u32(6).u32(total).u32(0).u32(0).u32(7).u32(6).u32(1500);
    epb.u8(1).u8(2).u8(3).u8(4).u8(5).u8(6).zeros(2);
    epb.u16(2).u16(4).u32(1);
    epb.u16(5).u16(8).u64(0);
    epb.u16(7).u16(9).u8(2).u64(1).zeros(3);
    epb.u16(1).u16(11);
    for (char c : std::string("exit xdp_lb")) {
        epb.u8(uint8_t(c));
    }
    epb.zeros(1);
    epb.u32(0).u32(total);
    ASSERT_GE(got.size(), epb.b.size());
    EXPECT_EQ(std::vector<uint8_t>(got.end() - long(epb.b.size()), got.end()), epb.b);
    EXPECT_LE(total - 8 + 3, pcapng::epb_max_overhead + pcapng::comment_overhead + 11);
}

TEST(Pcapng, InterfaceStatisticsBlockExactly) {
    interface_statistics st{1'000'000'000'000ull, 2'000'000'000'005ull, 42, 3};
    auto got = capture_bytes([&](output& out) {
        pcapng_writer w(out, test_section(), {test_iface()}, true);
        w.write_statistics(0, st);
    });
    auto header = expected_header();
    bytes isb;
    auto hi = [](uint64_t v) { return uint32_t(v >> 32); };
    auto lo = [](uint64_t v) { return uint32_t(v); };
    isb.u32(5).u32(76).u32(0).u32(hi(st.end_ns)).u32(lo(st.end_ns));
    isb.u16(2).u16(8).u32(hi(st.start_ns)).u32(lo(st.start_ns));
    isb.u16(3).u16(8).u32(hi(st.end_ns)).u32(lo(st.end_ns));
    isb.u16(4).u16(8).u64(42);
    isb.u16(5).u16(8).u64(3);
    isb.u32(0).u32(76);
    EXPECT_EQ(std::vector<uint8_t>(got.begin() + long(header.size()), got.end()), isb.b);
    EXPECT_EQ(isb.b.size(), pcapng::isb_size) << "what -C reserves for the block that ends each file";
}

class RoundTrip : public ::testing::TestWithParam<file_format> {};

TEST_P(RoundTrip, ReaderSeesWhatTheWriterWrote) {
    char tmpl[] = "/tmp/xcap-rt-XXXXXX";
    int fd = mkstemp(tmpl);
    ASSERT_GE(fd, 0);
    close(fd);
    std::string path = tmpl;
    std::vector<std::vector<uint8_t>> pkts;
    for (int i = 0; i < 300; ++i) {
        std::vector<uint8_t> p(size_t(1 + (i * 37) % 1500));
        for (size_t j = 0; j < p.size(); ++j) {
            p[j] = uint8_t(i + j);
        }
        pkts.push_back(p);
    }
    const uint64_t t0 = 1'790'000'000'123'456'789ull;
    {
        savefile_config cfg;
        cfg.path = path;
        cfg.format = GetParam();
        interface_description iface;
        iface.snaplen = 1000;
        savefile_set files(cfg, test_section(), {iface});
        for (size_t i = 0; i < pkts.size(); ++i) {
            packet_meta m;
            m.queue = uint32_t(i % 2);
            m.packet_id = i;
            files.write(t0 + i * 1001, pkts[i].data(), uint32_t(pkts[i].size()), m);
        }
    }
    capture_reader r(path);
    r.require_ethernet();
    read_packet p;
    size_t i = 0;
    while (r.next(p)) {
        ASSERT_LT(i, pkts.size());
        EXPECT_EQ(p.ts_ns, t0 + i * 1001) << i;
        EXPECT_EQ(p.len, pkts[i].size());
        EXPECT_EQ(p.caplen, std::min<size_t>(1000, pkts[i].size()));
        EXPECT_EQ(std::memcmp(p.data, pkts[i].data(), p.caplen), 0) << i;
        ++i;
    }
    EXPECT_EQ(i, pkts.size());
    EXPECT_EQ(r.packets_read(), pkts.size());
    unlink(path.c_str());
}

INSTANTIATE_TEST_SUITE_P(Formats, RoundTrip, ::testing::Values(file_format::pcap, file_format::pcapng),
                         [](const auto& info) { return info.param == file_format::pcap ? "pcap" : "pcapng"; });

TEST(Format, ChosenByExtension) {
    EXPECT_EQ(format_for_path("a.pcapng"), file_format::pcapng);
    EXPECT_EQ(format_for_path("a.pcap"), file_format::pcap);
    EXPECT_EQ(format_for_path("-"), file_format::pcap);
    EXPECT_EQ(format_for_path("pcapng"), file_format::pcap);
}

TEST(Pcapng, PiecesAreGatheredIntoOneBlock) {
    // A multi-buffer packet read in place: three pieces, 203 bytes, snaplen
    // 128 (test_iface) ends inside the second piece.
    std::vector<uint8_t> pkt(203);
    for (size_t i = 0; i < pkt.size(); ++i) {
        pkt[i] = uint8_t(i * 5 + 1);
    }
    const segment segs[3] = {{pkt.data(), 100}, {pkt.data() + 100, 100}, {pkt.data() + 200, 3}};
    packet_meta m;
    m.segs = segs;
    auto got = capture_bytes([&](output& out) {
        pcapng_writer w(out, test_section(), {test_iface()}, false);
        EXPECT_TRUE(w.write(5'000'000'123ull, pkt.data(), 203, m));
    });
    const uint32_t total = 28 + 128 + 8 + 12 + 4 + 4;
    bytes epb;
    epb.u32(6).u32(total).u32(0).u32(0).u32(5'000'000).u32(128).u32(203);
    epb.b.insert(epb.b.end(), pkt.begin(), pkt.begin() + 128);
    epb.u16(2).u16(4).u32(1);
    epb.u16(5).u16(8).u64(0);
    epb.u32(0).u32(total);
    ASSERT_GE(got.size(), epb.b.size());
    EXPECT_EQ(std::vector<uint8_t>(got.end() - long(epb.b.size()), got.end()), epb.b);
}
