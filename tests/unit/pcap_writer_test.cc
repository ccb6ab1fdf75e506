#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include "common/error.h"
#include <vector>

#include "pcap/output.h"
#include "pcap/pcap_writer.h"

using namespace xcap;

namespace {

// Reads everything a pipe received after `out` is flushed.
std::vector<uint8_t> drain(int fd) {
    std::vector<uint8_t> bytes;
    uint8_t buf[65536];
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0) {
        bytes.insert(bytes.end(), buf, buf + n);
    }
    return bytes;
}

template <typename T>
T at(const std::vector<uint8_t>& b, size_t off) {
    T v;
    std::memcpy(&v, b.data() + off, sizeof(v));
    return v;
}

struct pipe_pair {
    int fds[2];
    pipe_pair() { EXPECT_EQ(pipe2(fds, O_NONBLOCK), 0); }
    ~pipe_pair() {
        close(fds[0]);
        close(fds[1]);
    }
};

}  // namespace

TEST(PcapWriter, NanosecondHeaderAndRecordBytes) {
    pipe_pair p;
    {
        output out(p.fds[1], "pipe");
        pcap_writer w(out, 262144, true);
        const uint8_t pkt[5] = {1, 2, 3, 4, 5};
        EXPECT_FALSE(w.write(1'700'000'000'123'456'789ull, pkt, 5));
        out.flush();
    }
    auto b = drain(p.fds[0]);
    ASSERT_EQ(b.size(), 24u + 16u + 5u);
    EXPECT_EQ(at<uint32_t>(b, 0), 0xa1b23c4du);
    EXPECT_EQ(at<uint16_t>(b, 4), 2);
    EXPECT_EQ(at<uint16_t>(b, 6), 4);
    EXPECT_EQ(at<int32_t>(b, 8), 0);
    EXPECT_EQ(at<uint32_t>(b, 12), 0u);
    EXPECT_EQ(at<uint32_t>(b, 16), 262144u);
    EXPECT_EQ(at<uint32_t>(b, 20), 1u);
    EXPECT_EQ(at<uint32_t>(b, 24), 1'700'000'000u);
    EXPECT_EQ(at<uint32_t>(b, 28), 123'456'789u);
    EXPECT_EQ(at<uint32_t>(b, 32), 5u);
    EXPECT_EQ(at<uint32_t>(b, 36), 5u);
    EXPECT_EQ(std::memcmp(b.data() + 40, "\1\2\3\4\5", 5), 0);
}

TEST(PcapWriter, MicrosecondAndSnaplen) {
    pipe_pair p;
    {
        output out(p.fds[1], "pipe");
        pcap_writer w(out, 3, false);
        const uint8_t pkt[5] = {9, 8, 7, 6, 5};
        EXPECT_TRUE(w.write(2'000'000'000'999'999'999ull, pkt, 5));
        out.flush();
    }
    auto b = drain(p.fds[0]);
    ASSERT_EQ(b.size(), 24u + 16u + 3u);
    EXPECT_EQ(at<uint32_t>(b, 0), 0xa1b2c3d4u);
    EXPECT_EQ(at<uint32_t>(b, 16), 3u);
    EXPECT_EQ(at<uint32_t>(b, 24), 2'000'000'000u);
    EXPECT_EQ(at<uint32_t>(b, 28), 999'999u);  // truncated, not rounded up into the next second
    EXPECT_EQ(at<uint32_t>(b, 32), 3u);        // caplen
    EXPECT_EQ(at<uint32_t>(b, 36), 5u);        // original length
    EXPECT_EQ(std::memcmp(b.data() + 40, "\11\10\7", 3), 0);
}

TEST(Output, BuffersUntilFullThenWritesInOrder) {
    pipe_pair p;
    output out(p.fds[1], "pipe", 64);
    std::vector<uint8_t> expect;
    for (int i = 0; i < 20; ++i) {
        uint8_t chunk[7];
        std::memset(chunk, i, sizeof(chunk));
        out.append(chunk, sizeof(chunk));
        expect.insert(expect.end(), chunk, chunk + sizeof(chunk));
    }
    // 7-byte items through a 64-byte buffer: a write each time 9 items (63
    // bytes) are buffered and a 10th does not fit; 20 items make two writes.
    EXPECT_EQ(out.bytes_written(), 126u);
    out.flush();
    EXPECT_EQ(drain(p.fds[0]), expect);
    EXPECT_EQ(out.bytes_written(), 140u);
}

TEST(Output, ItemLargerThanTheBufferStillFits) {
    pipe_pair p;
    output out(p.fds[1], "pipe", 16);
    std::vector<uint8_t> big(100, 0x5a);
    out.append(big.data(), big.size());
    out.flush();
    EXPECT_EQ(drain(p.fds[0]), big);
}

TEST(Output, ClosedPipeMarksTheOutputFailedWithEpipe) {
    signal(SIGPIPE, SIG_IGN);
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    close(fds[0]);
    output out(fds[1], "pipe", 64);
    out.append("abc", 3);
    EXPECT_FALSE(out.flush());
    EXPECT_TRUE(out.failed());
    EXPECT_EQ(out.error(), EPIPE);
    close(fds[1]);
}

TEST(Output, UnwritablePathThrowsNamingIt) {
    try {
        output out("/nonexistent-dir/x.pcap");
        FAIL() << "opened an unwritable path";
    } catch (const xcap::failure& e) {
        EXPECT_NE(std::string(e.what()).find("/nonexistent-dir/x.pcap"), std::string::npos) << e.what();
        EXPECT_EQ(e.code(), ENOENT);
    }
}

// A packet in pieces (a multi-buffer packet read in place) is stored as if
// it were contiguous, and a snaplen that ends inside a piece cuts there.
TEST(PcapWriter, PiecesAreGatheredAndTheSnaplenCutsInsideOne) {
    std::vector<uint8_t> whole(5000);
    for (size_t i = 0; i < whole.size(); ++i) {
        whole[i] = uint8_t(i * 7 + (i >> 8));
    }
    const segment segs[3] = {{whole.data(), 1792}, {whole.data() + 1792, 1792}, {whole.data() + 3584, 1416}};
    pipe_pair p;
    ASSERT_EQ(fcntl(p.fds[1], F_SETPIPE_SZ, 1 << 20), 1 << 20);
    {
        output out(p.fds[1], "pipe");
        pcap_writer w(out, 262144, true);
        EXPECT_FALSE(w.write(1, whole.data(), 5000, UINT32_MAX, 0, segs));
        EXPECT_TRUE(w.write(2, whole.data(), 5000, 2000, 0, segs));  // cut 208 bytes into the second piece
        out.flush();
    }
    auto b = drain(p.fds[0]);
    ASSERT_EQ(b.size(), 24u + 16u + 5000u + 16u + 2000u);
    EXPECT_EQ(at<uint32_t>(b, 24 + 8), 5000u);
    EXPECT_EQ(std::memcmp(b.data() + 40, whole.data(), 5000), 0);
    const size_t second = 40 + 5000;
    EXPECT_EQ(at<uint32_t>(b, second + 8), 2000u);
    EXPECT_EQ(at<uint32_t>(b, second + 12), 5000u);
    EXPECT_EQ(std::memcmp(b.data() + second + 16, whole.data(), 2000), 0);
}
