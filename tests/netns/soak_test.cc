// The soak test (ctest label `soak`, not in the default run): a long capture
// of mixed traffic at a moderate rate with rotation every 10 s and -z gzip,
// then every file read back. Proves over time what the other tests prove in
// a moment: no packet lost, duplicated or reordered within a queue, memory
// flat, no file descriptor leak.
//
//   ctest --test-dir build -L soak --output-on-failure        # 10 minutes
//   XCAP_SOAK_SECONDS=60 ctest --test-dir build -L soak       # shorter
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <set>
#include <sstream>

#include "frames.h"
#include "netns_test.h"

using namespace xcap::test;

namespace {

uint64_t status_kib(pid_t pid, const std::string& field) {
    return number_in(read_text("/proc/" + std::to_string(pid) + "/status"), field + ":\\s+([0-9]+) kB");
}

size_t open_fds(pid_t pid) {
    std::istringstream ls(sh("ls /proc/" + std::to_string(pid) + "/fd").output);
    size_t n = 0;
    for (std::string fd; ls >> fd;) {
        ++n;
    }
    return n;
}

class Soak : public netns_test {};

TEST_F(Soak, RotatedCompressedCaptureLosesNothingAndStaysFlat) {
    const char* env = std::getenv("XCAP_SOAK_SECONDS");
    const unsigned seconds = env ? unsigned(std::atoi(env)) : 600;
    const unsigned pps = 2000;  // moderate: two sender threads, one per queue
    const uint64_t n = uint64_t(seconds) * pps;
    const std::string dir = path("soak");
    ASSERT_EQ(sh("mkdir -p " + dir).status, 0);

    std::vector<std::string> argv = {XCAP_BIN, "-i", net->receiver_if(), "-w", dir + "/soak-%s.pcapng",
                                     "-G", "10", "-z", "gzip"};
    child x(net->in_receiver(argv), path("xcap.out"), path("xcap.err"));
    ASSERT_TRUE(net->wait_receiver_xdp(true, 10)) << read_text(path("xcap.err"));
    child g(net->in_sender({MIXGEN_BIN, "-i", net->sender_if(), "-n", std::to_string(n), "--threads", "2", "--pps",
                            std::to_string(pps)}),
            path("gen.out"), path("gen.err"));

    // Memory and descriptors, sampled every 5 s once the first files exist.
    std::vector<uint64_t> rss;
    std::vector<size_t> fds;
    while (g.running()) {
        sleep(5);
        if (!x.running()) {
            break;
        }
        rss.push_back(status_kib(x.pid(), "VmRSS"));
        fds.push_back(open_fds(x.pid()));
    }
    ASSERT_EQ(g.wait(60), 0) << read_text(path("gen.err"));
    usleep(500'000);
    x.signal(SIGINT);
    ASSERT_EQ(x.wait(60), 0) << read_text(path("xcap.err"));
    const std::string err = read_text(path("xcap.err"));

    ASSERT_GE(rss.size(), 4u) << "the capture ended early: " << err;
    // After warm-up (the first 20 s), the resident size must not grow: a
    // leak of even one frame buffer or file state per rotation shows here.
    const uint64_t settled = rss[std::min<size_t>(3, rss.size() - 1)];
    const uint64_t peak = *std::max_element(rss.begin() + 3, rss.end());
    EXPECT_LE(peak, settled + 4096) << "RSS grew by " << (peak - settled) << " KiB after warm-up";
    EXPECT_EQ(*std::max_element(fds.begin(), fds.end()), *std::min_element(fds.begin(), fds.end()))
        << "open descriptors changed over the run";

    // Every file: compressed by -z, whole, and together exactly what was sent.
    std::istringstream files(sh("ls " + dir).output);
    std::set<uint32_t> seen;
    std::map<unsigned, int64_t> last;
    size_t nfiles = 0;
    for (std::string f; files >> f;) {
        ASSERT_EQ(f.substr(f.size() - 3), ".gz") << f << " was not compressed by -z";
        ++nfiles;
        ASSERT_EQ(sh("gunzip -c " + dir + "/" + f + " > " + path("one.pcapng")).status, 0) << f;
        std::string error;
        auto recs = read_capture(path("one.pcapng"), &error);
        ASSERT_EQ(error, "") << f;
        for (const auto& r : recs) {
            auto seq = frame_seq(r.data.data(), uint32_t(r.data.size()));
            ASSERT_TRUE(seq.has_value()) << "a record that was not sent, in " << f;
            ASSERT_TRUE(seen.insert(*seq).second) << "seq " << *seq << " captured twice";
            unsigned t = *seq % 2;
            if (last.count(t)) {
                ASSERT_GT(int64_t(*seq), last[t]) << "queue " << t << " out of order in " << f;
            }
            last[t] = *seq;
        }
    }
    EXPECT_GE(nfiles, size_t(seconds / 10)) << "a file every 10 s";
    EXPECT_EQ(seen.size(), n) << err;
    EXPECT_EQ(number_in(err, "([0-9]+) packets captured"), n);
    EXPECT_EQ(number_in(err, "([0-9]+) packets? dropped"), 0u);
}

}  // namespace
