// The disk path: the block pool, the writer thread's rings, the
// pad-and-truncate ending of a direct-I/O file (its length exact after
// every flush, not only at the end) and a full pool's drops, counted.
// Needs a file system that takes O_DIRECT for the temporary directory
// (ext4 here); skips on tmpfs.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/magic.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <thread>

#include "pcap/disk_writer.h"
#include "pcap/output.h"
#include "pcap/pcap_writer.h"
#include "pcap/pcapng_writer.h"
#include "pcap/savefile.h"
#include "tools.h"

using namespace xcap;
using namespace xcap::test;

namespace {

constexpr uint64_t t0 = 1'790'000'000'000'000'000ull;
constexpr size_t block = 64 * 1024;

std::string read_all(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The output's direct path, or why the test cannot use it here.
bool direct_or_skip(output& out, disk_writer& dw, std::string& why) { return out.use_disk(dw, why); }

std::vector<uint8_t> packet(uint32_t i, uint32_t len) {
    std::vector<uint8_t> p(len, uint8_t(i * 7));
    std::memcpy(p.data(), &i, 4);
    return p;
}

// The number each packet carries, in file order; a read error fails the test.
std::vector<uint32_t> numbers_in(const std::string& path) {
    std::string error;
    std::vector<uint32_t> n;
    for (const auto& p : read_capture(path, &error)) {
        n.push_back(p.data.size() >= 4 ? uint32_t(p.data[0]) | uint32_t(p.data[1]) << 8 | uint32_t(p.data[2]) << 16 |
                                             uint32_t(p.data[3]) << 24
                                       : UINT32_MAX);
    }
    EXPECT_EQ(error, "") << path;
    return n;
}

// The rotation tests' set: pcap files of at most 300,000 bytes on the
// direct path, from a pool that holds every packet they write (64 blocks
// of 64 KiB), so a full pool never drops any.
savefile_config rotating(const temp_dir& dir, const std::string& name) {
    savefile_config c;
    c.path = dir.file(name);
    c.rotate_bytes = 300'000;
    c.disk_buffer = 64 * block;
    c.disk_block = block;
    return c;
}

std::unique_ptr<savefile_set> open_set(const savefile_config& c) {
    return std::make_unique<savefile_set>(c, section_description{"cpu", "os", "xcap"},
                                          std::vector<interface_description>{interface_description{}});
}

// Why the set is not on the direct path here, or "".
std::string not_direct(const savefile_set& files, const temp_dir& dir) {
    return files.write_path().rfind("direct", 0) == 0 ? ""
                                                      : "no direct I/O in " + dir.path() + ": " + files.write_path();
}

// Packet `i` of the rotation tests: its number, then 60 to 1459 bytes.
savefile_set::result write_numbered(savefile_set& files, uint32_t i) {
    auto p = packet(i, 60 + (i * 37) % 1400);
    return files.write(t0 + i * 1000ull, p.data(), uint32_t(p.size()), {});
}

// The numbers in files 0 .. count-1 of the set, in file order.
std::vector<uint32_t> numbers_in_set(const savefile_config& c, uint64_t count) {
    std::vector<uint32_t> all;
    for (uint64_t k = 0; k < count; ++k) {
        auto got = numbers_in(rotation_name(c, k, 0));
        all.insert(all.end(), got.begin(), got.end());
    }
    return all;
}

// Each of 0 .. n-1 once, in order.
void expect_every_packet_in_order(const std::vector<uint32_t>& all, uint32_t n) {
    ASSERT_EQ(all.size(), n);
    for (uint32_t i = 0; i < n; ++i) {
        ASSERT_EQ(all[i], i);
    }
}

// Stands for a slow disk: the writer thread waits in before_write until
// released, or, so that a test waiting on the disk fails instead of
// hanging, until `limit` has passed (waited_out says so; the writer is
// then let go for good).
struct writer_gate {
    std::atomic<bool> released{false};
    std::atomic<bool> waited_out{false};
    void hold(std::chrono::milliseconds limit) {
        const auto until = std::chrono::steady_clock::now() + limit;
        while (!released.load()) {
            if (std::chrono::steady_clock::now() >= until) {
                waited_out = true;
                released = true;
                break;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
    }
};

}  // namespace

TEST(BlockPool, AlignedDistinctBlocksOfTheAskedSize) {
    block_pool pool(8 * block + 100, block);
    EXPECT_EQ(pool.count(), 8u);
    EXPECT_EQ(pool.block_size(), block);
    for (size_t i = 0; i < pool.count(); ++i) {
        EXPECT_EQ(reinterpret_cast<uintptr_t>(pool.block(i)) % direct_align, 0u);
        std::memset(pool.block(i), int(i), block);  // writable, and no overlap:
    }
    for (size_t i = 0; i < pool.count(); ++i) {
        EXPECT_EQ(pool.block(i)[0], uint8_t(i));
        EXPECT_EQ(pool.block(i)[block - 1], uint8_t(i));
    }
    block_pool odd(1000, 5000);  // rounded up to alignment; never fewer than two
    EXPECT_EQ(odd.block_size(), 8192u);
    EXPECT_EQ(odd.count(), 2u);
}

TEST(DiskWriter, EveryBlockButTheSpareIsFreeAndComesBack) {
    disk_writer dw(4 * block, block);
    std::vector<uint8_t*> taken;
    while (uint8_t* b = dw.take_block()) {
        EXPECT_NE(b, dw.spare());
        taken.push_back(b);
    }
    ASSERT_EQ(taken.size(), 3u);
    temp_dir dir;
    const std::string path = dir.file("blocks");
    int fd = open(path.c_str(), O_WRONLY | O_CREAT, 0644);
    ASSERT_GE(fd, 0);
    for (size_t i = 0; i < taken.size(); ++i) {
        std::memset(taken[i], 'a' + int(i), block);
        disk_job j;
        j.block = taken[i];
        j.fd = fd;
        j.offset = i * block;
        j.length = uint32_t(i + 1 < taken.size() ? block : 100);  // the last one short: padded, then cut
        dw.submit(j);
    }
    dw.drain();
    disk_job j;
    size_t back = 0;
    while (dw.reclaim(j)) {
        EXPECT_EQ(j.error, 0);
        EXPECT_EQ(j.reached, j.length);
        dw.give_back(j.block);
        ++back;
    }
    EXPECT_EQ(back, 3u);
    EXPECT_EQ(dw.in_flight(), 0u);
    close(fd);
    EXPECT_EQ(file_size(path), 2 * block + 100) << "the padding was cut off";
    const std::string bytes = read_all(path);
    EXPECT_EQ(bytes[0], 'a');
    EXPECT_EQ(bytes[block], 'b');
    EXPECT_EQ(bytes[2 * block + 99], 'c');
}

// Flushes at unaligned lengths (the age flush, -U) write the tail again
// from the aligned offset it starts on; after each, once the writer is
// idle, the file is exactly what was appended, and so at the end.
TEST(DirectOutput, PadAndTruncateKeepsTheLengthExactAfterEveryFlush) {
    temp_dir dir;
    const std::string path = dir.file("exact");
    disk_writer dw(8 * block, block);
    std::string expected;
    {
        output out(path);
        std::string why;
        if (!direct_or_skip(out, dw, why)) {
            GTEST_SKIP() << "no direct I/O in " << dir.path() << ": " << why;
        }
        ASSERT_TRUE(out.direct());
        uint32_t seed = 1;
        for (size_t step = 0; step < 40; ++step) {
            // From a byte to half a block, so flushes fall anywhere.
            const size_t n = 1 + (seed = seed * 1103515245 + 12345) % (block / 2);
            std::string chunk(n, char('A' + step % 26));
            chunk[0] = char(step);
            out.append(chunk.data(), chunk.size());
            expected += chunk;
            ASSERT_TRUE(out.flush());
            dw.drain();
            ASSERT_EQ(file_size(path), expected.size()) << "after flush " << step;
            EXPECT_EQ(out.bytes_total(), expected.size());
        }
        EXPECT_TRUE(out.finish());
    }
    EXPECT_EQ(read_all(path), expected);
}

// A pcap file written through savefile_set on the direct path, flushed at
// odd moments and rotated: every file reads to its end and together they
// hold every packet, in order. (The pool holds all of them: a rotation
// does not wait for the disk, so a smaller one could fill.)
TEST(DirectOutput, RotatedPcapFilesAreWholeAndComplete) {
    temp_dir dir;
    const savefile_config c = rotating(dir, "rot.pcap");
    auto files = open_set(c);
    if (auto why = not_direct(*files, dir); !why.empty()) {
        GTEST_SKIP() << why;
    }
    files->begin();
    const uint32_t n = 3000;
    for (uint32_t i = 0; i < n; ++i) {
        ASSERT_EQ(write_numbered(*files, i), savefile_set::result::written);
        if (i % 333 == 0) {
            files->flush();
        }
    }
    files->close();
    EXPECT_EQ(files->packets_in_files(), n);
    EXPECT_EQ(files->packets_buffer_full(), 0u);
    EXPECT_GE(files->files_opened(), 3u);
    for (uint64_t k = 0; k < files->files_opened(); ++k) {
        EXPECT_LE(file_size(rotation_name(c, k, 0)), c.rotate_bytes) << k;
    }
    expect_every_packet_in_order(numbers_in_set(c, files->files_opened()), n);
}

// A held writer thread stands for a slow disk. Rotations go on without
// it: the files are opened while none of the earlier ones is written, and
// no -z command runs on a file before its last write is in. Once the
// writer goes on, every file is complete, holds its packets in order, and
// is the size its -z command saw.
TEST(DirectOutput, RotationDoesNotWaitForTheDisk) {
    temp_dir dir;
    writer_gate gate;
    std::atomic<int> writes{0};
    savefile_config c = rotating(dir, "slow.pcap");
    c.post_rotate = "f() { stat -c %s \"$1\" > \"$1.size\"; }; f";
    c.disk_before_write = [&](const disk_job&) {
        gate.hold(std::chrono::seconds(3));
        ++writes;
        return 0;
    };
    auto files = open_set(c);
    if (auto why = not_direct(*files, dir); !why.empty()) {
        GTEST_SKIP() << why;
    }
    files->begin();
    const uint32_t n = 3000;
    for (uint32_t i = 0; i < n; ++i) {
        ASSERT_EQ(write_numbered(*files, i), savefile_set::result::written);
        ASSERT_TRUE(files->end_batch());
    }
    const uint64_t opened = files->files_opened();
    EXPECT_GE(opened, 5u);
    EXPECT_LE(writes.load(), 1) << "the writer was held, yet wrote";
    for (uint64_t k = 0; k < opened; ++k) {
        EXPECT_FALSE(file_exists(rotation_name(c, k, 0) + ".size")) << "-z ran before the file was written";
    }
    gate.released = true;
    files->close();
    EXPECT_FALSE(gate.waited_out.load()) << "a rotation waited for the held writer";
    EXPECT_EQ(files->packets_in_files(), n);
    EXPECT_EQ(files->packets_buffer_full(), 0u);
    for (uint64_t k = 0; k < files->files_opened(); ++k) {
        const std::string f = rotation_name(c, k, 0);
        EXPECT_EQ(read_text(f + ".size"), std::to_string(file_size(f)) + "\n") << f;
    }
    expect_every_packet_in_order(numbers_in_set(c, files->files_opened()), n);
}

// A -W ring comes back to a file name while that file is still being
// written (the writer is held): the rotation waits for it, so the file is
// not truncated under the writer, and the ring ends with two whole files
// holding the last packets, in order.
TEST(DirectOutput, ARingWaitsForTheFileItReopens) {
    temp_dir dir;
    writer_gate gate;
    savefile_config c = rotating(dir, "ring.pcap");
    c.max_files = 2;
    c.disk_before_write = [&](const disk_job&) {
        gate.hold(std::chrono::seconds(30));
        return 0;
    };
    auto files = open_set(c);
    if (auto why = not_direct(*files, dir); !why.empty()) {
        GTEST_SKIP() << why;
    }
    files->begin();
    std::thread release([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        gate.released = true;
    });
    const uint32_t n = 3000;
    uint32_t ring_wait_at = 0;
    for (uint32_t i = 0; i < n; ++i) {
        const uint64_t before = files->files_opened();
        ASSERT_EQ(write_numbered(*files, i), savefile_set::result::written);
        if (before == 2 && files->files_opened() == 3) {
            ring_wait_at = i;
            EXPECT_TRUE(gate.released.load()) << "the third file reopened the first before it was written";
        }
        files->end_batch();
    }
    files->close();
    release.join();
    ASSERT_GT(ring_wait_at, 0u);
    EXPECT_EQ(files->packets_buffer_full(), 0u);
    auto first = numbers_in(rotation_name(c, 0, 0));
    auto second = numbers_in(rotation_name(c, 1, 0));
    // The ring's newest file is whichever holds packet n-1; the other holds the ones just before it.
    auto& newest = !first.empty() && first.back() == n - 1 ? first : second;
    auto& older = &newest == &first ? second : first;
    ASSERT_FALSE(newest.empty());
    ASSERT_FALSE(older.empty());
    std::vector<uint32_t> all(older);
    all.insert(all.end(), newest.begin(), newest.end());
    EXPECT_EQ(all.back(), n - 1);
    for (size_t k = 1; k < all.size(); ++k) {
        ASSERT_EQ(all[k], all[k - 1] + 1) << "a gap at " << k;
    }
}

// The disk fails while later files are open already (their rotation did
// not wait): the failure is the set's, named after the file it happened
// in, which is cut back to its last whole record; the files after it were
// never written and are removed; every packet accepted is in a file or
// counted lost; -z runs on the files that are kept, and only on them.
TEST(DirectOutput, AFailureBehindTheRotationEndsTheSetAtItsFile) {
    temp_dir dir;
    writer_gate gate;
    std::atomic<int> writes{0};
    savefile_config c = rotating(dir, "fail.pcap");
    c.post_rotate = "f() { touch \"$1.z\"; }; f";
    c.disk_before_write = [&](const disk_job&) {
        gate.hold(std::chrono::seconds(3));
        return ++writes == 8 ? ENOSPC : 0;  // a job of the second file
    };
    auto files = open_set(c);
    if (auto why = not_direct(*files, dir); !why.empty()) {
        GTEST_SKIP() << why;
    }
    files->begin();
    uint64_t accepted = 0;
    uint64_t opened_when_released = 0;
    for (uint32_t i = 0; i < 3000 && !files->failed(); ++i) {
        if (write_numbered(*files, i) != savefile_set::result::written) {
            break;
        }
        ++accepted;
        if (i == 2000) {
            opened_when_released = files->files_opened();
            gate.released = true;  // the disk goes on, and fails, while later files are open
        }
        files->end_batch();
    }
    files->close();
    ASSERT_EQ(files->error(), ENOSPC);
    const std::string failed_file = files->output_error().file;
    uint64_t in_files = 0;
    uint64_t kept = 0;
    bool after = false;
    for (uint64_t k = 0; k < 20; ++k) {
        const std::string f = rotation_name(c, k, 0);
        if (after) {
            EXPECT_FALSE(file_exists(f)) << f << " comes after the failure and was never written";
            EXPECT_FALSE(file_exists(f + ".z"));
            continue;
        }
        ASSERT_TRUE(file_exists(f)) << f;
        ++kept;
        in_files += numbers_in(f).size();
        EXPECT_TRUE(file_exists(f + ".z")) << "-z did not run on " << f;
        after = f == failed_file;
    }
    ASSERT_TRUE(after) << "no file is named as the failed one: " << failed_file;
    EXPECT_NE(failed_file, rotation_name(c, 0, 0)) << "the test needs a later file to fail";
    EXPECT_GT(opened_when_released, kept) << "the test needs files opened after the one that fails";
    EXPECT_EQ(files->files_opened(), kept);
    EXPECT_EQ(files->packets_in_files(), in_files);
    EXPECT_EQ(files->packets_in_files() + files->packets_lost(), accepted);
    EXPECT_GT(files->packets_lost(), 0u);
}

// The disk is full before a file's headers are in (its first write fails):
// the file is cut back to nothing, which is no capture file, so it is
// removed and the failure says so; no -z runs on it; the summary names the
// files kept; every packet accepted is in them or counted lost. `failing`
// is the file whose first write fails: 0, the only file; 1, the second.
void first_write_fails(uint64_t failing) {
    temp_dir dir;
    std::atomic<uint64_t> first_blocks{0};
    savefile_config c = rotating(dir, "gone.pcap");
    c.post_rotate = "f() { touch \"$1.z\"; }; f";
    c.disk_before_write = [&](const disk_job& job) {
        return job.offset == 0 && first_blocks++ == failing ? ENOSPC : 0;
    };
    auto files = open_set(c);
    if (auto why = not_direct(*files, dir); !why.empty()) {
        GTEST_SKIP() << why;
    }
    files->begin();
    uint64_t accepted = 0;
    for (uint32_t i = 0; i < 3000 && !files->failed(); ++i) {
        if (write_numbered(*files, i) != savefile_set::result::written) {
            break;
        }
        ++accepted;
        files->end_batch();
    }
    files->close();
    ASSERT_EQ(files->error(), ENOSPC);
    const output_failure e = files->output_error();
    EXPECT_EQ(e.file, rotation_name(c, failing, 0));
    EXPECT_TRUE(e.removed);
    EXPECT_FALSE(file_exists(e.file)) << "an empty file was left";
    EXPECT_FALSE(file_exists(e.file + ".z")) << "-z ran on the removed file";
    EXPECT_FALSE(file_exists(rotation_name(c, failing + 1, 0))) << "a file after the failure was left";
    EXPECT_EQ(files->files_opened(), failing);
    uint64_t in_files = 0;
    for (uint64_t k = 0; k < failing; ++k) {
        in_files += numbers_in(rotation_name(c, k, 0)).size();
        EXPECT_TRUE(file_exists(rotation_name(c, k, 0) + ".z"));
    }
    EXPECT_EQ(files->files_description(), failing ? rotation_name(c, failing - 1, 0) : "no file");
    EXPECT_EQ(files->packets_in_files(), in_files);
    EXPECT_EQ(files->packets_in_files() + files->packets_lost(), accepted);
    EXPECT_GT(files->packets_lost(), 0u);
}

TEST(DirectOutput, TheOnlyFileTheDiskWasFullForIsRemoved) { first_write_fails(0); }
TEST(DirectOutput, ARotatedFileTheDiskWasFullForIsRemoved) { first_write_fails(1); }

// A file that was there before xcap (the user's, or a link the user made)
// is not removed when its first write fails: it is left empty, and the
// failure says so; still no -z on it.
TEST(DirectOutput, AFileThatWasThereIsLeftEmptyNotRemoved) {
    temp_dir dir;
    savefile_config c;
    c.path = dir.file("theirs.pcap");
    c.disk_buffer = 64 * block;
    c.disk_block = block;
    c.post_rotate = "f() { touch \"$1.z\"; }; f";
    c.disk_before_write = [](const disk_job&) { return ENOSPC; };
    {
        std::ofstream(c.path) << "what was there";
    }
    auto files = open_set(c);
    if (auto why = not_direct(*files, dir); !why.empty()) {
        GTEST_SKIP() << why;
    }
    files->begin();
    for (uint32_t i = 0; i < 100 && !files->failed(); ++i) {
        write_numbered(*files, i);
        files->end_batch();
    }
    files->close();
    const output_failure e = files->output_error();
    EXPECT_EQ(e.error, ENOSPC);
    EXPECT_EQ(e.file, c.path);
    EXPECT_FALSE(e.removed);
    EXPECT_TRUE(e.empty);
    ASSERT_TRUE(file_exists(c.path));
    EXPECT_EQ(file_size(c.path), 0u);
    EXPECT_FALSE(file_exists(c.path + ".z"));
    EXPECT_EQ(files->files_description(), c.path);
}

// With every block held elsewhere, what the capture hands over goes to the
// spare block and is counted (buffer_full), the file stays whole, and
// writing resumes as soon as a block is free again.
TEST(DirectOutput, FullPoolDropsAreCountedAndTheFileStaysWhole) {
    temp_dir dir;
    const std::string path = dir.file("full.pcap");
    disk_writer dw(4 * block, block);
    uint64_t offered = 0;
    {
        output out(path);
        std::string why;
        if (!direct_or_skip(out, dw, why)) {
            GTEST_SKIP() << "no direct I/O in " << dir.path() << ": " << why;
        }
        std::vector<uint8_t*> held;
        while (uint8_t* b = dw.take_block()) {
            held.push_back(b);
        }
        pcap_writer w(out, max_snaplen, true);
        auto write = [&](uint32_t count) {
            for (uint32_t k = 0; k < count; ++k, ++offered) {
                auto p = packet(uint32_t(offered), 1000);
                w.write(t0 + offered, p.data(), uint32_t(p.size()));
            }
        };
        write(10);                 // into the block use_disk took
        ASSERT_TRUE(out.flush());  // that block goes to the writer; no block is free: the spare
        write(20);                 // into the spare: dropped
        dw.drain();                // (the writer is done with the first block)
        ASSERT_TRUE(out.flush());  // the dropped are counted; the first block is taken again
        for (uint8_t* b : held) {
            dw.give_back(b);
        }
        write(10);
        EXPECT_TRUE(out.finish());
    }
    EXPECT_EQ(dw.packets_full.load(), 20u);
    EXPECT_EQ(dw.wire_bytes_full.load(), 20u * 1000);
    auto got = numbers_in(path);
    ASSERT_EQ(got.size(), 20u);
    for (uint32_t i = 0; i < 10; ++i) {
        EXPECT_EQ(got[i], i);
        EXPECT_EQ(got[10 + i], 30 + i);
    }
}

// The Interface Statistics Block that ends a pcapng file counts the
// records a full pool made the last flush drop: the file's last records
// are out (written or counted) before the block is, and the block itself
// is written, not dropped with them.
TEST(DirectOutput, LastStatisticsCountTheLastFlushsDrops) {
    temp_dir dir;
    savefile_config c;
    c.path = dir.file("last.pcapng");
    c.format = file_format::pcapng;
    c.disk_buffer = 2 * block;  // one block to fill and the spare
    c.disk_block = block;
    savefile_set files(c, section_description{"cpu", "os", "xcap"},
                       std::vector<interface_description>{interface_description{}});
    if (files.write_path().rfind("direct", 0) != 0) {
        GTEST_SKIP() << "no direct I/O in " << dir.path() << ": " << files.write_path();
    }
    files.set_statistics_source([&] {
        return std::vector<interface_statistics>{{0, 0, files.packets_accepted(), files.packets_buffer_full()}};
    });
    files.begin();
    // About 64 fit the one block; when it goes to the writer none is free,
    // so the rest go into the spare, to be dropped at the next flush: the
    // one that ends the file.
    const uint32_t n = 100;
    for (uint32_t i = 0; i < n; ++i) {
        auto p = packet(i, 1000);
        ASSERT_EQ(files.write(t0 + i * 1000ull, p.data(), uint32_t(p.size()), {}), savefile_set::result::written);
    }
    files.close();
    const uint64_t dropped = files.packets_buffer_full();
    ASSERT_GT(dropped, 0u) << "the test needs the last flush to drop";
    ASSERT_LT(dropped, n);
    EXPECT_EQ(numbers_in(c.path).size(), n - dropped);
    const std::string bytes = read_all(c.path);
    ASSERT_GE(bytes.size(), pcapng::isb_size);
    auto u32_at = [&](size_t off) {
        uint32_t v;
        std::memcpy(&v, bytes.data() + off, 4);
        return v;
    };
    const size_t isb = bytes.size() - pcapng::isb_size;
    ASSERT_EQ(u32_at(isb), pcapng::isb_type) << "the file does not end with its statistics";
    ASSERT_EQ(u32_at(isb + 56), (8u << 16) | pcapng::isb_ifdrop);
    uint64_t ifdrop;
    std::memcpy(&ifdrop, bytes.data() + isb + 60, 8);
    EXPECT_EQ(ifdrop, dropped);
}

// tmpfs takes O_DIRECT on this kernel, but there the page cache is the
// file: no pool, no thread, the earlier path, and -v says why.
TEST(DirectOutput, TmpfsKeepsTheBufferedPath) {
    struct statfs fs{};
    if (statfs("/dev/shm", &fs) != 0 || fs.f_type != TMPFS_MAGIC) {
        GTEST_SKIP() << "/dev/shm is not tmpfs here";
    }
    char tmpl[] = "/dev/shm/xcap-disk-test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    const std::string path = std::string(tmpl) + "/t.pcap";
    {
        savefile_config c;
        c.path = path;
        c.disk_buffer = 8 * block;
        c.disk_block = block;
        savefile_set files(c, section_description{"cpu", "os", "xcap"},
                           std::vector<interface_description>{interface_description{}});
        EXPECT_EQ(files.write_path(), "buffered writes: on tmpfs the page cache is the file");
        files.begin();
        auto p = packet(7, 100);
        files.write(t0, p.data(), uint32_t(p.size()), {});
        files.close();
        EXPECT_EQ(files.packets_in_files(), 1u);
    }
    EXPECT_EQ(numbers_in(path), std::vector<uint32_t>{7});
    unlink(path.c_str());
    rmdir(tmpl);
}
