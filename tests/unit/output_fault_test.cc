// Faults on the output side: a full file system, a file size limit, an
// output whose reader goes away, a FIFO, -U, -z commands that fail or hang,
// and a rotated file that cannot be opened. Whatever happens, every file left
// behind reads to its end, holds exactly the packets savefile_set says it
// holds, and every accepted packet is either in a file or counted lost.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>
#include <thread>

#include "pcap/reader.h"
#include "pcap/savefile.h"
#include "tools.h"

using namespace xcap;
using namespace xcap::test;

namespace {

constexpr uint64_t t0 = 1'790'000'000'000'000'000ull;

// Packet i: its number in the first four bytes, a length that varies so
// that a cut lands anywhere in a record.
uint32_t length_of(uint32_t i) { return 60 + (i * 37) % 190; }

std::vector<uint8_t> packet(uint32_t i) {
    std::vector<uint8_t> p(length_of(i), uint8_t(i));
    std::memcpy(p.data(), &i, 4);
    return p;
}


std::string base_name(const std::string& path) { return path.substr(path.rfind('/') + 1); }

std::string format_name(file_format f) { return f == file_format::pcap ? "pcap" : "pcapng"; }

std::unique_ptr<savefile_set> open_set(const savefile_config& c) {
    auto s = std::make_unique<savefile_set>(c, section_description{"cpu", "os", "xcap"},
                                            std::vector<interface_description>{interface_description{}});
    s->set_statistics_source([] { return std::vector<interface_statistics>{{0, 0, 10, 1}}; });
    return s;
}

// What a run against a failing output reported, passed from a child process
// as one line of text.
struct fault_report {
    std::string skip;         // why the fault could not be set up
    std::string broken;       // the child failed: a test failure, not a skip
    int error = 0;
    std::string error_file;   // base name
    uint64_t accepted = 0;    // write() took it
    uint64_t refused = 0;     // not offered: the set had failed already
    uint64_t in_files = 0;
    uint64_t lost = 0;
    uint64_t wire_lost = 0;
    uint64_t set_accepted = 0;  // packets_accepted() as the set counted them
};

std::string to_line(const fault_report& r) {
    std::ostringstream s;
    s << r.error << ' ' << r.accepted << ' ' << r.refused << ' ' << r.in_files << ' ' << r.lost << ' ' << r.wire_lost
      << ' ' << r.set_accepted << ' ' << (r.error_file.empty() ? "-" : r.error_file) << '\n';
    return s.str();
}

fault_report from_line(const std::string& line) {
    fault_report r;
    if (line.rfind("skip ", 0) == 0) {
        r.skip = line.substr(5);
        return r;
    }
    std::istringstream s(line);
    s >> r.error >> r.accepted >> r.refused >> r.in_files >> r.lost >> r.wire_lost >> r.set_accepted >> r.error_file;
    if (!s) {
        r.broken = "the child reported: " + line;
    }
    return r;
}

// Offers `count` packets the way the capture writer does (nothing more once
// the set has failed), then closes the set.
fault_report offer(const savefile_config& c, uint32_t count) {
    fault_report r;
    auto files = open_set(c);
    for (uint32_t i = 0; i < count; ++i) {
        if (files->failed()) {
            ++r.refused;
            continue;
        }
        auto p = packet(i);
        files->write(t0 + i * 1000ull, p.data(), uint32_t(p.size()), {});
        ++r.accepted;
    }
    files->close();
    r.error = files->output_error().error;
    r.error_file = base_name(files->output_error().file);
    r.in_files = files->packets_in_files();
    r.lost = files->packets_lost();
    r.wire_lost = files->wire_bytes_lost();
    r.set_accepted = files->packets_accepted();
    return r;
}

// Runs `body` in a child process and returns what it returned: a fault set
// up there (a private mount, a file size limit) ends with the child, even
// when the test fails.
std::string in_child(const std::function<std::string()>& body) {
    int fds[2];
    if (pipe(fds) != 0) {
        return "skip pipe() failed";
    }
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        std::string out;
        try {
            out = body();
        } catch (const std::exception& e) {
            out = std::string("error: exception in the child: ") + e.what() + "\n";
        }
        size_t off = 0;
        while (off < out.size()) {
            ssize_t n = write(fds[1], out.data() + off, out.size() - off);
            if (n <= 0) {
                break;
            }
            off += size_t(n);
        }
        _exit(0);
    }
    close(fds[1]);
    std::string out;
    char buf[4096];
    ssize_t n;
    while ((n = read(fds[0], buf, sizeof(buf))) > 0) {
        out.append(buf, size_t(n));
    }
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    if (out.empty()) {
        return "error: the child died (wait status " + std::to_string(status) + ")\n";
    }
    return out;
}

// The files of a set named `base` in `dir` (base, base1, base2, ...).
std::vector<std::string> set_files(const std::string& dir, const std::string& base) {
    std::vector<std::string> names;
    for (size_t k = 0; file_exists(dir + "/" + base + (k ? std::to_string(k) : "")); ++k) {
        names.push_back(dir + "/" + base + (k ? std::to_string(k) : ""));
    }
    return names;
}

// Every file reads to its end with libpcap (and tcpdump, when asked);
// together they hold packets 0 .. in_files-1 in order; the counts add up.
void expect_whole(const std::vector<std::string>& files, const fault_report& r, uint32_t offered,
                  bool with_tcpdump = true) {
    EXPECT_EQ(r.accepted + r.refused, offered);
    EXPECT_EQ(r.set_accepted, r.accepted);
    EXPECT_EQ(r.in_files + r.lost, r.accepted) << "every accepted packet is in a file or lost";
    uint64_t wire = 0;
    for (uint64_t i = r.in_files; i < r.accepted; ++i) {
        wire += length_of(uint32_t(i));
    }
    EXPECT_EQ(r.wire_lost, wire);
    std::vector<uint32_t> numbers;
    for (const auto& f : files) {
        try {
            capture_reader reader(f);
            read_packet p;
            while (reader.next(p)) {
                uint32_t i;
                std::memcpy(&i, p.data, 4);
                numbers.push_back(i);
                EXPECT_EQ(p.caplen, length_of(i)) << f;
            }
        } catch (const read_error& e) {
            ADD_FAILURE() << "the reader stopped short: " << e.what();
        }
        if (with_tcpdump && have_tool("tcpdump")) {
            auto t = run_command("tcpdump -r " + shell_quote(f) + " -w /dev/null");
            EXPECT_EQ(t.status, 0) << f << ": " << t.output;
        }
    }
    ASSERT_EQ(numbers.size(), r.in_files) << "the files hold what packets_in_files() says";
    for (uint32_t i = 0; i < numbers.size(); ++i) {
        ASSERT_EQ(numbers[i], i);
    }
}

struct fault_case {
    file_format format;
    uint64_t rotate_bytes;
    size_t buffer_size;
};

void PrintTo(const fault_case& c, std::ostream* os) {
    *os << format_name(c.format) << ", -C " << c.rotate_bytes << ", buffer " << c.buffer_size;
}

std::string case_name(const ::testing::TestParamInfo<fault_case>& info) {
    return format_name(info.param.format) + (info.param.rotate_bytes ? "_rotating" : "") + "_buffer" +
           std::to_string(info.param.buffer_size / 1024) + "k";
}

class FullDisk : public ::testing::TestWithParam<fault_case> {
protected:
    temp_dir dir;
};

}  // namespace

// 256 KiB of tmpfs in a mount namespace of a child process, so the mount can
// neither leak nor outlive the test.
TEST_P(FullDisk, FilesEndOnWholeRecordsAndCountsAreExact) {
    if (geteuid() != 0) {
        GTEST_SKIP() << "mounting a 256 KiB tmpfs needs root";
    }
    const fault_case fc = GetParam();
    const std::string mnt = dir.file("mnt");
    const std::string out = dir.file("out");
    ASSERT_EQ(mkdir(mnt.c_str(), 0700), 0);
    ASSERT_EQ(mkdir(out.c_str(), 0700), 0);
    const std::string base = "fault." + format_name(fc.format);
    const uint32_t offered = 5000;
    auto line = in_child([&]() -> std::string {
        if (unshare(CLONE_NEWNS) != 0) {
            return std::string("skip unshare(CLONE_NEWNS): ") + strerror(errno) + "\n";
        }
        if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
            mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=256k") != 0) {
            return std::string("skip mount tmpfs: ") + strerror(errno) + "\n";
        }
        savefile_config c;
        c.path = mnt + "/" + base;
        c.format = fc.format;
        c.rotate_bytes = fc.rotate_bytes;
        c.buffer_size = fc.buffer_size;
        auto r = offer(c, offered);
        // The files go out of the mount, which ends with this process.
        for (const auto& f : set_files(mnt, base)) {
            std::ifstream in(f, std::ios::binary);
            std::ofstream copy(out + "/" + base_name(f), std::ios::binary);
            copy << in.rdbuf();
        }
        return to_line(r);
    });
    auto r = from_line(line);
    if (!r.skip.empty()) {
        GTEST_SKIP() << r.skip;
    }
    ASSERT_TRUE(r.broken.empty()) << r.broken;
    EXPECT_EQ(r.error, ENOSPC) << strerror(r.error);
    auto files = set_files(out, base);
    ASSERT_FALSE(files.empty());
    EXPECT_EQ(r.error_file, base_name(files.back())) << "the error names the file that filled the disk";
    EXPECT_GT(r.lost, 0u);
    EXPECT_GT(r.in_files, 1000u) << "the disk holds about a third of what was offered";
    if (fc.rotate_bytes) {
        EXPECT_GE(files.size(), 3u);
        for (const auto& f : files) {
            EXPECT_LE(file_size(f), fc.rotate_bytes) << f;
        }
    }
    expect_whole(files, r, offered);
}

INSTANTIATE_TEST_SUITE_P(Outputs, FullDisk,
                         ::testing::Values(fault_case{file_format::pcap, 0, output::default_buffer},
                                           fault_case{file_format::pcapng, 0, output::default_buffer},
                                           fault_case{file_format::pcap, 0, 16 * 1024},
                                           fault_case{file_format::pcapng, 0, 16 * 1024},
                                           fault_case{file_format::pcap, 60'000, 16 * 1024},
                                           fault_case{file_format::pcapng, 60'000, 16 * 1024}),
                         case_name);

namespace {

class SizeLimit : public ::testing::TestWithParam<file_format> {
protected:
    temp_dir dir;
};

}  // namespace

// RLIMIT_FSIZE (no root needed): the write that crosses the limit is cut
// short and the next one fails with EFBIG. Sweeping the limit over a few
// records puts the cut at every offset within a record, on a boundary, and
// within a record header, with buffers small enough that a file takes many
// flushes, with and without rotation.
TEST_P(SizeLimit, EveryCutOffsetLeavesWholeRecords) {
    const file_format format = GetParam();
    savefile_config probe;
    probe.path = dir.file("probe");
    probe.format = format;
    uint64_t headers = 0;
    {
        auto s = open_set(probe);
        s->flush();
        headers = file_size(probe.path);
    }
    const uint32_t offered = 200;
    struct variant {
        uint64_t rotate_bytes;
        size_t buffer;
    };
    const variant variants[] = {{0, 512}, {0, 4096}, {3000, 700}};
    std::string lines = in_child([&] {
        signal(SIGXFSZ, SIG_IGN);
        std::string all;
        for (size_t v = 0; v < std::size(variants); ++v) {
            for (uint64_t extra = 0; extra < 700; extra += 7) {
                rlimit lim{};
                getrlimit(RLIMIT_FSIZE, &lim);
                rlimit small = lim;
                small.rlim_cur = headers + 1000 + extra;
                if (setrlimit(RLIMIT_FSIZE, &small) != 0) {
                    return std::string("skip setrlimit: ") + strerror(errno) + "\n";
                }
                savefile_config c;
                c.path = dir.file("cut-" + std::to_string(v) + "-" + std::to_string(extra) + ".cap");
                c.format = format;
                c.rotate_bytes = variants[v].rotate_bytes;
                c.buffer_size = variants[v].buffer;
                auto r = offer(c, offered);
                setrlimit(RLIMIT_FSIZE, &lim);
                all += std::to_string(v) + " " + std::to_string(extra) + " " + to_line(r);
            }
        }
        return all;
    });
    ASSERT_NE(lines.rfind("error: ", 0), 0u) << lines;
    std::istringstream in(lines);
    size_t cases = 0;
    for (std::string line; std::getline(in, line);) {
        if (line.rfind("skip ", 0) == 0) {
            GTEST_SKIP() << line.substr(5);
        }
        std::istringstream fields(line);
        size_t v;
        uint64_t extra;
        fields >> v >> extra;
        std::string rest;
        std::getline(fields, rest);
        ASSERT_FALSE(rest.empty()) << line;
        auto r = from_line(rest.substr(1));
        ASSERT_TRUE(r.skip.empty() && r.broken.empty()) << line;
        SCOPED_TRACE("variant " + std::to_string(v) + ", limit headers+1000+" + std::to_string(extra));
        const std::string base = "cut-" + std::to_string(v) + "-" + std::to_string(extra) + ".cap";
        EXPECT_EQ(r.error, EFBIG) << strerror(r.error);
        auto files = set_files(dir.path(), base);
        ASSERT_FALSE(files.empty());
        EXPECT_EQ(r.error_file, base_name(files.back()));
        expect_whole(files, r, offered, cases % 10 == 0);  // tcpdump is slow to start; libpcap reads all
        ++cases;
    }
    EXPECT_EQ(cases, std::size(variants) * 100);
}

INSTANTIATE_TEST_SUITE_P(Formats, SizeLimit, ::testing::Values(file_format::pcap, file_format::pcapng),
                         [](const auto& info) { return format_name(info.param); });

namespace {

struct sigpipe_ignored {
    struct sigaction old{};
    sigpipe_ignored() {
        struct sigaction ign{};
        ign.sa_handler = SIG_IGN;
        sigaction(SIGPIPE, &ign, &old);
    }
    ~sigpipe_ignored() { sigaction(SIGPIPE, &old, nullptr); }
};

struct fd_guard {
    int fd = -1;
    ~fd_guard() {
        if (fd >= 0) {
            close(fd);
        }
    }
};

// Kills and reaps the -z commands a set stopped waiting for, however the
// test ends. Declared after the set, so it runs before the set goes.
struct abandoned_reaper {
    const savefile_set& files;
    ~abandoned_reaper() {
        for (const auto& h : files.post_rotate_abandoned()) {
            kill(h.pid, SIGKILL);
            waitpid(h.pid, nullptr, 0);
        }
    }
};

// Reads what the FIFO holds now, waiting up to 1 s for the first bytes.
std::vector<uint8_t> read_available(int fd) {
    std::vector<uint8_t> bytes;
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 1000) <= 0) {
        return bytes;
    }
    uint8_t buf[65536];
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0) {
        bytes.insert(bytes.end(), buf, buf + n);
    }
    return bytes;
}

}  // namespace

TEST(StreamOutput, FifoIsFlushedAtTheEndOfEachBatch) {
    temp_dir dir;
    const std::string fifo = dir.file("live.pcap");
    ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
    fd_guard reader{open(fifo.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC)};
    ASSERT_GE(reader.fd, 0);
    savefile_config c;
    c.path = fifo;
    auto files = open_set(c);
    EXPECT_TRUE(files->is_stream());
    EXPECT_FALSE(files->is_stdout());
    auto p = packet(0);
    files->write(t0, p.data(), uint32_t(p.size()), {});
    EXPECT_TRUE(files->end_batch());
    auto bytes = read_available(reader.fd);
    EXPECT_EQ(bytes.size(), 24 + 16 + p.size()) << "the header and the packet, without close()";
    files->close();
}

TEST(StreamOutput, ReaderGoingAwayCountsWhatItGot) {
    sigpipe_ignored quiet;
    temp_dir dir;
    const std::string fifo = dir.file("live.pcap");
    ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
    fd_guard reader{open(fifo.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC)};
    ASSERT_GE(reader.fd, 0);
    savefile_config c;
    c.path = fifo;
    auto files = open_set(c);
    for (uint32_t i = 0; i < 10; ++i) {
        auto p = packet(i);
        files->write(t0 + i, p.data(), uint32_t(p.size()), {});
    }
    files->end_batch();
    auto got = read_available(reader.fd);
    close(reader.fd);
    reader.fd = -1;
    for (uint32_t i = 10; i < 15; ++i) {
        auto p = packet(i);
        files->write(t0 + i, p.data(), uint32_t(p.size()), {});
    }
    EXPECT_FALSE(files->end_batch());
    files->close();
    EXPECT_EQ(files->output_error().error, EPIPE);
    EXPECT_EQ(files->output_error().file, fifo);
    uint64_t expected = 24;
    for (uint32_t i = 0; i < 10; ++i) {
        expected += 16 + length_of(i);
    }
    EXPECT_EQ(got.size(), expected);
    EXPECT_EQ(files->packets_in_files(), 10u);
    EXPECT_EQ(files->packets_lost(), 5u);
}

TEST(PacketBuffered, RegularFileHoldsThePacketAfterEachBatch) {
    temp_dir dir;
    auto p = packet(0);
    for (bool buffered : {false, true}) {
        savefile_config c;
        c.path = dir.file(buffered ? "u.pcap" : "plain.pcap");
        c.packet_buffered = buffered;
        auto files = open_set(c);
        EXPECT_FALSE(files->is_stream());
        files->write(t0, p.data(), uint32_t(p.size()), {});
        files->end_batch();
        EXPECT_EQ(file_size(c.path), buffered ? 24 + 16 + p.size() : 0u)
            << (buffered ? "-U: on disk after the batch" : "without -U the buffer fills first");
        files->close();
    }
}

TEST(PostRotate, FailingCommandIsReportedWithItsFileAndStatus) {
    temp_dir dir;
    savefile_config c;
    c.path = dir.file("hook.pcap");
    c.rotate_bytes = 2'000;
    // Fails for the second file only (hook.pcap1).
    c.post_rotate = "sh -c 'case \"$0\" in *1) exit 5;; esac'";
    std::vector<std::string> reported;
    c.post_rotate_report = [&](const post_rotate_failure& f) { reported.push_back(f.message()); };
    auto files = open_set(c);
    for (uint32_t i = 0; i < 40; ++i) {
        auto p = packet(i);
        files->write(t0 + i, p.data(), uint32_t(p.size()), {});
    }
    ASSERT_GE(files->files_opened(), 3u);
    ASSERT_LT(files->files_opened(), 11u);
    EXPECT_TRUE(files->close());
    ASSERT_EQ(files->post_rotate_failures().size(), 1u);
    const auto& f = files->post_rotate_failures()[0];
    EXPECT_EQ(f.file, c.path + "1");
    ASSERT_TRUE(WIFEXITED(f.wait_status));
    EXPECT_EQ(WEXITSTATUS(f.wait_status), 5);
    EXPECT_EQ(f.message(), "-z command for " + c.path + "1 exited with status 5");
    EXPECT_EQ(reported, std::vector<std::string>{f.message()});
    EXPECT_TRUE(files->post_rotate_abandoned().empty());
}

TEST(PostRotate, AbandonEndsTheWait) {
    temp_dir dir;
    savefile_config c;
    c.path = dir.file("slow.pcap");
    // A shell loop, so that killing the one process ends it.
    c.post_rotate = "while :; do sleep 0.05; done; :";
    auto files = open_set(c);
    abandoned_reaper reaper{*files};
    auto p = packet(0);
    files->write(t0, p.data(), uint32_t(p.size()), {});
    std::atomic<bool> abandon{false};
    std::thread second_ctrl_c([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        abandon = true;
    });
    auto start = std::chrono::steady_clock::now();
    bool all_waited = files->close(&abandon);
    auto took = std::chrono::steady_clock::now() - start;
    second_ctrl_c.join();
    EXPECT_FALSE(all_waited);
    EXPECT_LT(took, std::chrono::seconds(2));
    ASSERT_EQ(files->post_rotate_abandoned().size(), 1u);
    const auto& h = files->post_rotate_abandoned()[0];
    EXPECT_EQ(h.file, c.path);
    ASSERT_GT(h.pid, 0);
    EXPECT_EQ(waitpid(h.pid, nullptr, WNOHANG), 0) << "still running: not waited for";
}

TEST(PostRotate, PredicateAbandonsToo) {
    temp_dir dir;
    savefile_config c;
    c.path = dir.file("slow.pcap");
    c.post_rotate = "while :; do sleep 0.05; done; :";
    auto files = open_set(c);
    abandoned_reaper reaper{*files};
    int polls = 0;
    EXPECT_FALSE(files->close(std::function<bool()>([&] { return ++polls == 3; })));
    EXPECT_EQ(polls, 3);
    ASSERT_EQ(files->post_rotate_abandoned().size(), 1u);
    EXPECT_GT(files->post_rotate_abandoned()[0].pid, 0);
}

TEST(RotationFault, FileThatCannotBeOpenedIsNamedAndNothingMoreIsWritten) {
    for (file_format format : {file_format::pcap, file_format::pcapng}) {
        SCOPED_TRACE(format_name(format));
        temp_dir dir;
        savefile_config c;
        c.path = dir.file("r.cap");
        c.format = format;
        c.rotate_bytes = 2'000;
        // The third file's name is taken by a directory.
        ASSERT_EQ(mkdir((c.path + "2").c_str(), 0700), 0);
        auto r = offer(c, 200);
        EXPECT_EQ(r.error, EISDIR);
        EXPECT_EQ(r.error_file, "r.cap2");
        EXPECT_EQ(r.lost, 1u) << "the packet that would have started the third file";
        EXPECT_FALSE(file_exists(c.path + "3")) << "no file is opened after a failure";
        expect_whole({c.path, c.path + "1"}, r, 200);
    }
}
