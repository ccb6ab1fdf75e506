// Rotation: -C, -G, -W and -z, with synthetic packets; every file checked
// with the reader (and tcpdump where installed).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <set>

#include "pcap/reader.h"
#include "pcap/savefile.h"
#include "tools.h"

using namespace xcap;
using namespace xcap::test;

namespace {

constexpr uint64_t t0 = 1'790'000'000'000'000'000ull;  // 2026-09-21, a whole second

std::vector<uint8_t> packet(uint32_t i, uint32_t len) {
    std::vector<uint8_t> p(len, uint8_t(i));
    std::memcpy(p.data(), &i, 4);  // the packet's number in its first bytes
    return p;
}

// Packet numbers in a file, in order; fails the test if it is not valid.
std::vector<uint32_t> numbers_in(const std::string& path) {
    std::vector<uint32_t> n;
    capture_reader r(path);
    read_packet p;
    while (r.next(p)) {
        uint32_t i;
        std::memcpy(&i, p.data, 4);
        n.push_back(i);
    }
    return n;
}


class Rotation : public ::testing::TestWithParam<file_format> {
protected:
    savefile_config config(const std::string& name) {
        savefile_config c;
        c.path = dir.file(name);
        c.format = GetParam();
        return c;
    }
    std::unique_ptr<savefile_set> open(const savefile_config& c) {
        auto s = std::make_unique<savefile_set>(c, section_description{"cpu", "os", "xcap"},
                                                std::vector<interface_description>{interface_description{}});
        s->set_statistics_source([] { return std::vector<interface_statistics>{{0, 0, 10, 1}}; });
        return s;
    }
    temp_dir dir;
};

}  // namespace

TEST_P(Rotation, BySizeSplitsExactlyWithinTheBound) {
    auto c = config("size.cap");
    c.rotate_bytes = 20'000;
    const uint32_t n = 500;
    {
        auto files = open(c);
        for (uint32_t i = 0; i < n; ++i) {
            ASSERT_NE(files->write(t0 + i, packet(i, 60 + (i * 53) % 700).data(), 60 + (i * 53) % 700, {}),
                      savefile_set::result::files_done);
        }
    }
    std::vector<uint32_t> all;
    size_t nfiles = 0;
    for (size_t k = 0;; ++k) {
        std::string name = k == 0 ? c.path : c.path + std::to_string(k);
        if (!file_exists(name)) {
            break;
        }
        ++nfiles;
        EXPECT_LE(file_size(name), c.rotate_bytes) << name;
        auto nums = numbers_in(name);
        EXPECT_FALSE(nums.empty()) << name;
        all.insert(all.end(), nums.begin(), nums.end());
        if (have_tool("tcpdump")) {
            auto r = run_command("tcpdump -r " + shell_quote(name) + " -w /dev/null");
            EXPECT_EQ(r.status, 0) << name << ": " << r.output;
        }
    }
    EXPECT_GE(nfiles, 5u);
    ASSERT_EQ(all.size(), n) << "no packet lost or duplicated across " << nfiles << " files";
    for (uint32_t i = 0; i < n; ++i) {
        ASSERT_EQ(all[i], i);
    }
}

TEST_P(Rotation, RingKeepsTheLastWFiles) {
    auto c = config("ring.cap");
    c.rotate_bytes = 4'000;
    c.max_files = 3;
    const uint32_t n = 200;
    {
        auto files = open(c);
        for (uint32_t i = 0; i < n; ++i) {
            files->write(t0 + i, packet(i, 100).data(), 100, {});
        }
    }
    EXPECT_FALSE(file_exists(c.path)) << "with -W every file carries its number";
    EXPECT_FALSE(file_exists(c.path + "3"));
    std::vector<std::vector<uint32_t>> ring;
    for (int k = 0; k < 3; ++k) {
        ASSERT_TRUE(file_exists(c.path + std::to_string(k)));
        EXPECT_LE(file_size(c.path + std::to_string(k)), c.rotate_bytes);
        ring.push_back(numbers_in(c.path + std::to_string(k)));
    }
    // The newest packets survive, each once, and the last packet is in one of them.
    std::set<uint32_t> kept;
    for (const auto& f : ring) {
        for (uint32_t i : f) {
            EXPECT_TRUE(kept.insert(i).second);
        }
    }
    EXPECT_TRUE(kept.count(n - 1));
    EXPECT_EQ(*kept.rbegin() - *kept.begin() + 1, kept.size()) << "a contiguous run of the newest packets";
}

TEST_P(Rotation, RingNamesArePaddedToTheWidthOfW) {
    savefile_config c;
    c.path = "x";
    c.rotate_bytes = 1;
    c.max_files = 12;
    EXPECT_EQ(rotation_name(c, 0, 0), "x00");
    EXPECT_EQ(rotation_name(c, 11, 0), "x11");
    EXPECT_EQ(rotation_name(c, 12, 0), "x00");
    c.max_files = 0;
    EXPECT_EQ(rotation_name(c, 0, 0), "x");
    EXPECT_EQ(rotation_name(c, 2, 0), "x2");
}

TEST_P(Rotation, ByTimeWithStrftimeNamesAndWLimit) {
    setenv("TZ", "UTC", 1);
    tzset();
    auto c = config("t-%H%M%S.cap");
    c.rotate_seconds = 10;
    c.max_files = 3;
    std::vector<savefile_set::result> results;
    {
        auto files = open(c);
        // The first file's name comes from the wall clock at open; the later
        // ones from the packet that starts them. Send packets 4 s apart
        // starting now, so periods are crossed every 2-3 packets.
        timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        const uint64_t start = uint64_t(now.tv_sec) * 1'000'000'000;
        for (uint32_t i = 0; i < 12; ++i) {
            results.push_back(files->write(start + uint64_t(i) * 4'000'000'000ull, packet(i, 80).data(), 80, {}));
        }
        EXPECT_EQ(files->files_opened(), 3u);
    }
    // Stops with files_done once the third file's period is over.
    auto done = std::find(results.begin(), results.end(), savefile_set::result::files_done);
    ASSERT_NE(done, results.end());
    size_t written = size_t(done - results.begin());
    auto listing = run_command("ls " + shell_quote(dir.path()));
    std::vector<uint32_t> all;
    size_t nfiles = 0;
    std::istringstream names(listing.output);
    for (std::string name; names >> name;) {
        ASSERT_EQ(name.rfind("t-", 0), 0u) << name;
        ASSERT_EQ(name.size(), std::string("t-HHMMSS.cap").size()) << name;
        auto nums = numbers_in(dir.file(name));
        all.insert(all.end(), nums.begin(), nums.end());
        ++nfiles;
    }
    EXPECT_EQ(nfiles, 3u) << listing.output;
    std::sort(all.begin(), all.end());
    ASSERT_EQ(all.size(), written);
    for (size_t i = 0; i < all.size(); ++i) {
        EXPECT_EQ(all[i], i);
    }
}

TEST_P(Rotation, PostRotateCommandRunsOnEveryFinishedFile) {
    auto c = config("hook.cap");
    c.rotate_bytes = 2'000;
    c.post_rotate = "echo >> " + shell_quote(dir.file("hooks.log"));
    size_t opened;
    {
        auto files = open(c);
        for (uint32_t i = 0; i < 100; ++i) {
            files->write(t0 + i, packet(i, 100).data(), 100, {});
        }
        opened = files->files_opened();
    }  // close() waits for the hooks
    std::ifstream log(dir.file("hooks.log"));
    std::set<std::string> seen;
    for (std::string line; std::getline(log, line);) {
        EXPECT_TRUE(file_exists(line)) << line;
        seen.insert(line);
    }
    EXPECT_EQ(seen.size(), opened) << "one run per file, the last one included";
    EXPECT_TRUE(seen.count(c.path));
}

// xcap blocks SIGINT/SIGTERM/SIGHUP and ignores SIGPIPE; a -z command must
// start with neither (a blocked mask and an ignored disposition both survive
// exec), in a process group of its own (a terminal's Ctrl-C stops xcap, not
// the compression it started).
TEST_P(Rotation, PostRotateCommandStartsWithCleanSignalsInItsOwnGroup) {
    sigset_t stop, old;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &stop, &old);
    auto old_pipe = signal(SIGPIPE, SIG_IGN);
    auto c = config("sig.cap");
    // The signal state of a program the command runs (grep), and its group.
    c.post_rotate = "f() { grep -E '^Sig(Blk|Ign)' /proc/self/status > \"$1.sig\"; cut -d' ' -f5 /proc/self/stat >> \"$1.sig\"; }; f";
    {
        auto files = open(c);
        files->write(t0, packet(0, 100).data(), 100, {});
    }
    signal(SIGPIPE, old_pipe);
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    std::ifstream in(c.path + ".sig");
    std::string blk, ign, pgid;
    std::getline(in, blk);
    std::getline(in, ign);
    std::getline(in, pgid);
    ASSERT_EQ(blk.rfind("SigBlk:", 0), 0u) << "the command did not run: " << blk;
    EXPECT_EQ(blk.find_first_not_of("0", blk.find_first_not_of(" \t", 7)), std::string::npos) << blk;
    const unsigned long long ignored = std::stoull(ign.substr(ign.find_first_not_of(" \t", 7)), nullptr, 16);
    EXPECT_EQ(ignored & (1ull << (SIGPIPE - 1)), 0u) << ign;
    ASSERT_FALSE(pgid.empty());
    EXPECT_NE(std::stol(pgid), long(getpgrp())) << "runs in the capture's process group";
}

TEST_P(Rotation, UnwritableFirstFileThrowsNamingIt) {
    savefile_config c;
    c.path = dir.file("missing/dir/x.cap");
    c.format = GetParam();
    try {
        savefile_set s(c, {}, {interface_description{}});
        FAIL() << "opened an unwritable path";
    } catch (const failure& e) {
        EXPECT_NE(std::string(e.what()).find(c.path), std::string::npos) << e.what();
    }
}

// wait_for_begin: a set destroyed before begin() (a setup step refused)
// leaves an existing file as it was and no new file; after begin() the file
// is the capture's, truncated at its first write (nothing of the old bytes
// after it).
TEST_P(Rotation, NothingIsTouchedBeforeBegin) {
    const std::string old_bytes(100000, 'x');
    auto c = config("old.cap");
    c.wait_for_begin = true;
    std::ofstream(c.path) << old_bytes;
    open(c).reset();
    EXPECT_EQ(read_text(c.path), old_bytes);

    auto fresh = config("new.cap");
    fresh.wait_for_begin = true;
    open(fresh).reset();
    EXPECT_NE(access(fresh.path.c_str(), F_OK), 0) << "a new file was left behind";

    auto s = open(c);
    s->begin();
    auto p = packet(7, 60);
    ASSERT_EQ(s->write(t0, p.data(), 60, packet_meta{}), savefile_set::result::written);
    s->close();
    s.reset();
    EXPECT_EQ(numbers_in(c.path), std::vector<uint32_t>{7}) << "the old bytes were not cut off";
    EXPECT_LT(read_text(c.path).size(), 1000u);
}

// -G: a first period without packets leaves no file; the next one's file
// is the first.
TEST_P(Rotation, EmptyFirstPeriodMakesNoFile) {
    auto c = config("g-%s.cap");
    c.rotate_seconds = 1;
    auto s = open(c);
    s->begin();
    const std::string first = s->current_name();
    auto p = packet(1, 60);
    // Far beyond the set's start (taken from the wall clock when it opened).
    const uint64_t later = uint64_t(time(nullptr) + 5) * 1'000'000'000;
    ASSERT_EQ(s->write(later, p.data(), 60, packet_meta{}), savefile_set::result::written);
    s->close();
    EXPECT_NE(access(first.c_str(), F_OK), 0) << first << " holds no packet and should not exist";
    EXPECT_EQ(numbers_in(s->current_name()), std::vector<uint32_t>{1});
    EXPECT_EQ(s->files_opened(), 1u);
    EXPECT_EQ(s->files_description(), s->current_name());
}

INSTANTIATE_TEST_SUITE_P(Formats, Rotation, ::testing::Values(file_format::pcap, file_format::pcapng),
                         [](const auto& info) { return info.param == file_format::pcap ? "pcap" : "pcapng"; });
