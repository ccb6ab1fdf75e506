#pragma once

#include <gtest/gtest.h>
#include <sys/utsname.h>

#include <cstdio>

#include <memory>
#include <regex>
#include <string>
#include <vector>

#include "netns.h"
#include "tools.h"

#if !defined(XCAP_BIN) || !defined(MIXGEN_BIN)
#error "a netns test is built by xcap_netns_test() (tests/netns/CMakeLists.txt), which sets XCAP_BIN and MIXGEN_BIN"
#endif

namespace xcap::test {

// The running kernel's major.minor is at least `major.minor`.
inline bool kernel_at_least(int major, int minor) {
    utsname u{};
    int ma = 0, mi = 0;
    if (uname(&u) != 0 || std::sscanf(u.release, "%d.%d", &ma, &mi) != 2) {
        return false;
    }
    return ma > major || (ma == major && mi >= minor);
}

// The first group of `pattern` in `text` as a number; a test failure (and 0)
// when it is not there.
inline uint64_t number_in(const std::string& text, const std::string& pattern) {
    std::smatch m;
    if (std::regex_search(text, m, std::regex(pattern))) {
        return std::stoull(m[1]);
    }
    ADD_FAILURE() << "no /" << pattern << "/ in:\n" << text;
    return 0;
}

// Base of the netns suites: skips (with the reason) where namespaces cannot
// be made, gives each test its own veth pair and scratch directory, and
// removes both when the test ends, passed or failed. A suite's own set-up
// goes in prepare(), which runs only once both are there.
//
// The helpers run the programs under test, whose paths every netns test
// executable gets from xcap_netns_test() in tests/netns/CMakeLists.txt
// (XCAP_BIN, MIXGEN_BIN). A child's output goes to NAME.out and NAME.err in
// the scratch directory.
class netns_test : public ::testing::Test {
protected:
    void SetUp() final {
        if (auto why = netns_unavailable_reason(); !why.empty()) {
            GTEST_SKIP() << why;
        }
        net = std::make_unique<veth_pair>(2);
        ASSERT_TRUE(net->ok()) << net->error();
        ASSERT_FALSE(scratch.path().empty());
        prepare();
    }
    // A suite's own set-up (it may skip or fail the test, as SetUp can).
    virtual void prepare() {}
    std::string path(const std::string& name) const { return scratch.file(name); }

    // `xcap -i <receiving interface> ARGS` in the receiver's namespace.
    std::vector<std::string> xcap(std::vector<std::string> args) const {
        args.insert(args.begin(), {XCAP_BIN, "-i", net->receiver_if()});
        return net->in_receiver(args);
    }

    // Starts `argv` (a capture on the receiving interface) and waits until
    // an XDP program is attached there; a test failure when none is within
    // `timeout_s`.
    child start_attached(const std::vector<std::string>& argv, const std::string& name, double timeout_s = 10) {
        child c(argv, path(name + ".out"), path(name + ".err"));
        EXPECT_TRUE(net->wait_receiver_xdp(true, timeout_s))
            << "xcap did not attach: " << read_text(path(name + ".err"));
        return c;
    }
    child start_xcap(std::vector<std::string> args, const std::string& name = "xcap") {
        return start_attached(xcap(std::move(args)), name);
    }

    // Starts `argv` and waits until its stderr holds `ready` (its setup
    // line); a test failure when it does not within `timeout_s`, or the
    // process ends first.
    child start(const std::vector<std::string>& argv, const std::string& name, const std::string& ready,
                double timeout_s = 10) {
        child c(argv, path(name + ".out"), path(name + ".err"));
        EXPECT_TRUE(wait_for_text(path(name + ".err"), ready, timeout_s, &c))
            << "xcap did not get going: " << read_text(path(name + ".err"));
        return c;
    }

    // Runs `argv` to its end: its exit code (-1 when it is still running
    // after `timeout_s`), its stderr in `err`. Its standard input is
    // `stdin_fd`, or /dev/null.
    int run(const std::vector<std::string>& argv, std::string& err, double timeout_s = 30,
            const std::string& name = "run", int stdin_fd = -1) {
        child c(argv, path(name + ".out"), path(name + ".err"), stdin_fd);
        const int rc = c.wait(timeout_s);
        err = read_text(path(name + ".err"));
        return rc;
    }

    // Sends `n` frames of the mixed traffic (frames.h) from the sender's
    // namespace through xcap-mixgen, with `extra` options; its stdout. A
    // test failure when it does not end well within `timeout_s`.
    std::string send(uint64_t n, std::vector<std::string> extra = {}, double timeout_s = 60) {
        std::vector<std::string> argv = {MIXGEN_BIN, "-i", net->sender_if(), "-n", std::to_string(n)};
        argv.insert(argv.end(), extra.begin(), extra.end());
        child g(net->in_sender(argv), path("gen.out"), path("gen.err"));
        EXPECT_EQ(g.wait(timeout_s), 0) << read_text(path("gen.err"));
        return read_text(path("gen.out"));
    }

    std::unique_ptr<veth_pair> net;
    temp_dir scratch;
};

}  // namespace xcap::test
