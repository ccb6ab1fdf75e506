#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <regex>
#include <string>

#include "netns.h"
#include "tools.h"

namespace xcap::test {

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
// removes both when the test ends, passed or failed.
class netns_test : public ::testing::Test {
protected:
    void SetUp() override {
        if (auto why = netns_unavailable_reason(); !why.empty()) {
            GTEST_SKIP() << why;
        }
        net = std::make_unique<veth_pair>(2);
        ASSERT_TRUE(net->ok()) << net->error();
        ASSERT_FALSE(scratch.path().empty());
    }
    std::string path(const std::string& name) const { return scratch.file(name); }

    std::unique_ptr<veth_pair> net;
    temp_dir scratch;
};

}  // namespace xcap::test
