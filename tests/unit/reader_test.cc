// The reader on a corpus of broken files made here: each gives one clear
// error naming the file (and the packet and byte where known), or reads
// what is valid; nothing crashes (this suite also runs under ASan+UBSan).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <fstream>
#include <thread>

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

namespace {

// Puts `fd` on descriptor 0 for the test's lifetime, then puts the test
// runner's own standard input back, passed or failed.
class stdin_from {
public:
    explicit stdin_from(int fd) : _saved(dup(STDIN_FILENO)) {
        dup2(fd, STDIN_FILENO);
        close(fd);
    }
    ~stdin_from() {
        dup2(_saved, STDIN_FILENO);
        close(_saved);
    }
    stdin_from(const stdin_from&) = delete;
    stdin_from& operator=(const stdin_from&) = delete;

private:
    int _saved;
};

std::vector<std::vector<uint8_t>> read_packets(capture_reader& r) {
    std::vector<std::vector<uint8_t>> out;
    read_packet p;
    while (r.next(p)) {
        out.emplace_back(p.data, p.data + p.caplen);
    }
    return out;
}

}  // namespace

// A regular file on standard input (`-r - < file`), left part-way in by
// whoever ran xcap: every reader starts where it stood, reads what a named
// file of the same bytes holds, and leaves the offset where it was; pcap
// (mapped) and pcapng (through libpcap) alike.
TEST_F(Corpus, StandardInputRegularFileIsReadAgainFromWhereItStood) {
    auto pcap = pcap_header();
    for (uint32_t i = 0; i < 5; ++i) {
        pcap_record(pcap, 60 + i, 60 + i, 60 + i);
    }
    auto ng = pcapng_shb_idb();
    for (uint32_t i = 0; i < 5; ++i) {
        epb(ng, 61 + i);
    }
    for (const blob* f : {&pcap, &ng}) {
        const std::string named = write("named", *f);
        blob prefixed;
        prefixed.raw("JUNK!!!", 7).raw(f->b.data(), f->b.size());
        const std::string path = write("prefixed", prefixed);
        capture_reader reference(named);
        const auto want = read_packets(reference);
        ASSERT_EQ(want.size(), 5u);

        int fd = open(path.c_str(), O_RDONLY);
        ASSERT_GE(fd, 0);
        ASSERT_EQ(lseek(fd, 7, SEEK_SET), 7);
        stdin_from in(fd);
        EXPECT_TRUE(capture_reader::can_reread("-"));
        for (int pass = 0; pass < 2; ++pass) {
            capture_reader r("-");
            EXPECT_EQ(r.name(), "standard input");
            EXPECT_EQ(read_packets(r), want) << "pass " << pass;
        }
        EXPECT_EQ(lseek(STDIN_FILENO, 0, SEEK_CUR), 7) << "nothing moved the shell's offset";
    }
}

// A pipe is read once, as it comes; a corrupt record is still named by
// packet and byte offset, which the stream counts itself.
TEST_F(Corpus, StandardInputPipeNamesPacketAndOffset) {
    auto f = pcap_header();
    pcap_record(f, 10, 10, 10);
    f.u32(1).u32(2);  // half a record header
    int p[2];
    ASSERT_EQ(pipe(p), 0);
    ASSERT_EQ(::write(p[1], f.b.data(), f.b.size()), ssize_t(f.b.size()));
    close(p[1]);
    stdin_from in(p[0]);
    EXPECT_FALSE(capture_reader::can_reread("-"));
    capture_reader r("-");
    read_packet pkt;
    ASSERT_TRUE(r.next(pkt));
    EXPECT_EQ(pkt.caplen, 10u);
    try {
        r.next(pkt);
        FAIL() << "read past a cut record";
    } catch (const read_error& e) {
        EXPECT_NE(std::string(e.what()).find("standard input: packet 2 at byte 50"), std::string::npos) << e.what();
    }
}

TEST_F(Corpus, StandardInputEmptyPipe) {
    int p[2];
    ASSERT_EQ(pipe(p), 0);
    close(p[1]);
    stdin_from in(p[0]);
    try {
        capture_reader r("-");
        FAIL() << "an empty input opened";
    } catch (const read_error& e) {
        EXPECT_EQ(std::string(e.what()), "standard input: empty (0 bytes), not a pcap or pcapng capture");
    }
}

// A writer that stalls cannot hold up a stop: the wait for more input ends
// when the interrupt descriptor turns readable, as the input's end.
TEST_F(Corpus, StandardInputPipeWaitEndsOnInterrupt) {
    auto f = pcap_header();
    pcap_record(f, 10, 10, 10);
    int p[2];
    ASSERT_EQ(pipe(p), 0);
    ASSERT_EQ(::write(p[1], f.b.data(), f.b.size()), ssize_t(f.b.size()));
    stdin_from in(p[0]);
    const int stop = eventfd(0, EFD_CLOEXEC);
    ASSERT_GE(stop, 0);
    capture_reader r("-");
    r.interrupt_on(stop);
    read_packet pkt;
    ASSERT_TRUE(r.next(pkt));
    std::atomic<bool> returned{false};
    std::thread stopper([&] {
        usleep(100'000);
        uint64_t one = 1;
        EXPECT_EQ(::write(stop, &one, sizeof(one)), ssize_t(sizeof(one)));
        // Should the interrupt not work, the writer goes away after 10 s, so
        // the test fails on the time rather than hangs.
        for (int i = 0; i < 1000 && !returned.load(); ++i) {
            usleep(10'000);
        }
        close(p[1]);
    });
    const auto t0 = std::chrono::steady_clock::now();
    EXPECT_FALSE(r.next(pkt)) << "the writer is still there, with nothing written";
    returned.store(true);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
    stopper.join();
    close(stop);
}
