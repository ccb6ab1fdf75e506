// The reader on a corpus of broken files made here: each gives one clear
// error naming the file (and the packet and byte where known), or reads
// what is valid; nothing crashes (this suite also runs under ASan+UBSan).
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>

#include "pcap/reader.h"
#include "tools.h"

using namespace xcap;
using namespace xcap::test;

namespace {

struct blob {
    std::vector<uint8_t> b;
    blob& u16(uint16_t v) { return raw(&v, 2); }
    blob& u32(uint32_t v) { return raw(&v, 4); }
    blob& raw(const void* p, size_t n) {
        auto* c = static_cast<const uint8_t*>(p);
        b.insert(b.end(), c, c + n);
        return *this;
    }
    blob& fill(size_t n, uint8_t v = 0xab) {
        b.insert(b.end(), n, v);
        return *this;
    }
};

blob pcap_header(uint32_t snaplen = 262144, uint32_t linktype = 1) {
    blob h;
    h.u32(0xa1b23c4d).u16(2).u16(4).u32(0).u32(0).u32(snaplen).u32(linktype);
    return h;
}

blob& pcap_record(blob& f, uint32_t caplen, uint32_t len, size_t present) {
    f.u32(1'700'000'000).u32(5).u32(caplen).u32(len).fill(present);
    return f;
}

blob pcapng_shb_idb() {
    blob f;
    f.u32(0x0A0D0D0A).u32(28).u32(0x1A2B3C4D).u16(1).u16(0).u32(0xffffffff).u32(0xffffffff).u32(28);
    f.u32(1).u32(20).u16(1).u16(0).u32(262144).u32(20);
    return f;
}

blob& epb(blob& f, uint32_t caplen) {
    uint32_t padded = (caplen + 3) & ~3u;
    uint32_t total = 32 + padded;
    f.u32(6).u32(total).u32(0).u32(0).u32(1).u32(caplen).u32(caplen).fill(caplen).fill(padded - caplen, 0).u32(total);
    return f;
}

class Corpus : public ::testing::Test {
protected:
    std::string write(const std::string& name, const blob& f) {
        std::string path = dir.file(name);
        std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(f.b.data()), std::streamsize(f.b.size()));
        return path;
    }
    // Reads everything; returns the error message, or "" when the file read cleanly.
    std::string read_all(const std::string& path, size_t* count = nullptr) {
        try {
            capture_reader r(path);
            read_packet p;
            size_t n = 0;
            while (r.next(p)) {
                ++n;
                EXPECT_LE(p.caplen, 262144u);
                if (p.caplen) {
                    volatile uint8_t last = p.data[p.caplen - 1];  // the bytes are really there
                    (void)last;
                }
            }
            if (count) {
                *count = n;
            }
            return "";
        } catch (const read_error& e) {
            std::string msg = e.what();
            EXPECT_EQ(msg.rfind(path + ": ", 0), 0u) << "names the file first: " << msg;
            EXPECT_EQ(msg.find('\n'), std::string::npos) << "one line: " << msg;
            return msg;
        }
    }
    temp_dir dir;
};

}  // namespace

TEST_F(Corpus, EmptyFile) { EXPECT_NE(read_all(write("empty", {})), ""); }

TEST_F(Corpus, TruncatedFileHeader) {
    auto h = pcap_header();
    h.b.resize(10);
    EXPECT_NE(read_all(write("short-header", h)), "");
}

TEST_F(Corpus, BadMagic) {
    blob f;
    f.fill(24, 0x42);
    auto msg = read_all(write("bad-magic", f));
    EXPECT_NE(msg.find("unknown file format"), std::string::npos) << msg;
}

TEST_F(Corpus, TruncatedRecordHeaderNamesPacketAndOffset) {
    auto f = pcap_header();
    pcap_record(f, 10, 10, 10);
    f.u32(1).u32(2);  // half a record header
    auto msg = read_all(write("short-record", f));
    EXPECT_NE(msg.find("packet 2 at byte 50"), std::string::npos) << msg;
    EXPECT_NE(msg.find("truncated"), std::string::npos) << msg;
}

TEST_F(Corpus, CaplenBeyondTheEndOfTheFile) {
    auto f = pcap_header();
    pcap_record(f, 1000, 1000, 10);
    auto msg = read_all(write("short-data", f));
    EXPECT_NE(msg.find("packet 1 at byte 24"), std::string::npos) << msg;
}

TEST_F(Corpus, CaplenBeyondAnySnaplen) {
    auto f = pcap_header();
    pcap_record(f, 10'000'000, 10'000'000, 16);
    auto msg = read_all(write("huge-caplen", f));
    EXPECT_NE(msg.find("packet 1"), std::string::npos) << msg;
}

TEST_F(Corpus, CaplenAboveTheFilesSnaplenIsReadSafely) {
    auto f = pcap_header(100);
    pcap_record(f, 200, 200, 200);
    pcap_record(f, 50, 50, 50);
    size_t n = 0;
    auto msg = read_all(write("over-snaplen", f), &n);
    // libpcap accepts it (and may cut the packet to the snaplen); either way nothing is read out of bounds.
    EXPECT_TRUE(msg.empty() ? n == 2 : msg.find("packet 1") != std::string::npos) << msg;
}

TEST_F(Corpus, ZeroLengthPacketsAreValid) {
    auto f = pcap_header();
    pcap_record(f, 0, 0, 0);
    pcap_record(f, 0, 60, 0);
    size_t n = 0;
    EXPECT_EQ(read_all(write("zero", f), &n), "");
    EXPECT_EQ(n, 2u);
}

TEST_F(Corpus, PcapngWrongBlockLength) {
    auto f = pcapng_shb_idb();
    f.u32(6).u32(13).u32(0).u32(0).u32(1).u32(4).u32(4).fill(8);  // length not a multiple of 4
    auto msg = read_all(write("bad-length.pcapng", f));
    EXPECT_NE(msg.find("packet 1"), std::string::npos) << msg;
}

TEST_F(Corpus, PcapngBlockLengthBeyondTheFile) {
    auto f = pcapng_shb_idb();
    epb(f, 60);
    f.u32(6).u32(4000).u32(0).u32(0).u32(1).u32(60).u32(60).fill(20);
    size_t n = 0;
    auto msg = read_all(write("short-block.pcapng", f), &n);
    EXPECT_NE(msg.find("packet 2"), std::string::npos) << msg;
}

TEST_F(Corpus, PcapngUnknownBlocksAreSkipped) {
    auto f = pcapng_shb_idb();
    epb(f, 60);
    f.u32(0x0BAD0001).u32(16).u32(0xdeadbeef).u32(16);  // a block type nobody defined
    epb(f, 61);
    size_t n = 0;
    EXPECT_EQ(read_all(write("unknown-block.pcapng", f), &n), "");
    EXPECT_EQ(n, 2u);
}

TEST_F(Corpus, NonEthernetLinkTypeIsNamed) {
    auto f = pcap_header(262144, 101);  // LINKTYPE_RAW
    pcap_record(f, 20, 20, 20);
    capture_reader r(write("raw.pcap", f));
    EXPECT_EQ(r.linktype_name(), "RAW (Raw IP)");
    try {
        r.require_ethernet();
        FAIL() << "accepted a raw IP capture";
    } catch (const read_error& e) {
        EXPECT_NE(std::string(e.what()).find("link type RAW (Raw IP) is not Ethernet"), std::string::npos) << e.what();
    }
}

TEST_F(Corpus, MissingFile) {
    auto msg = read_all(dir.file("nope.pcap"));
    EXPECT_NE(msg.find("No such file"), std::string::npos) << msg;
}

// Classic pcap files are read from a mapping, other streams through libpcap:
// both must give the same packets, in either byte order and precision, and a
// record the mapping leaves to libpcap mid-file (longer than the snaplen)
// must continue where the mapping stopped.
TEST_F(Corpus, MappedFilesReadAsLibpcapReadsThem) {
    auto bswap = [](uint32_t v, bool s) { return s ? __builtin_bswap32(v) : v; };
    auto bswap16 = [](uint16_t v, bool s) { return s ? __builtin_bswap16(v) : v; };
    for (bool swapped : {false, true}) {
        for (uint32_t magic : {0xa1b2c3d4u, 0xa1b23c4du}) {
            blob f;
            f.u32(bswap(magic, swapped)).u16(bswap16(2, swapped)).u16(bswap16(4, swapped)).u32(0).u32(0);
            f.u32(bswap(300, swapped)).u32(bswap(1, swapped));
            for (uint32_t i = 0; i < 50; ++i) {
                const uint32_t caplen = i == 20 ? 400 : 14 + i * 5;  // record 21 exceeds the snaplen
                f.u32(bswap(1'700'000'000 + i, swapped)).u32(bswap(i * 7, swapped));
                f.u32(bswap(caplen, swapped)).u32(bswap(caplen + i, swapped));
                for (uint32_t j = 0; j < caplen; ++j) {
                    f.b.push_back(uint8_t(i * 31 + j));
                }
            }
            const std::string path = write("m.pcap", f);
            capture_reader mapped(path);
            capture_reader streamed(fopen(path.c_str(), "rb"), "stream");
            read_packet a, b;
            size_t n = 0;
            for (;;) {
                const bool more_a = mapped.next(a);
                ASSERT_EQ(more_a, streamed.next(b)) << n;
                if (!more_a) {
                    break;
                }
                EXPECT_EQ(a.ts_ns, b.ts_ns) << n;
                EXPECT_EQ(a.caplen, b.caplen) << n;
                EXPECT_EQ(a.len, b.len) << n;
                ASSERT_EQ(std::memcmp(a.data, b.data, a.caplen), 0) << n;
                ++n;
            }
            EXPECT_EQ(n, 50u) << "swapped " << swapped << " magic " << std::hex << magic;
            EXPECT_EQ(mapped.packets_read(), 50u);
        }
    }
}
