#pragma once
// Small helpers every part of xcap-bench uses: formatting, clocks, files,
// and the interrupt flag that Ctrl-C sets. Single-threaded use, except
// g_interrupted, which a signal handler writes.
#include <signal.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "netns.h"

namespace xcap::e2e {

// The test bed (tests/common, tests/netns): sh, quote, read_text, child,
// veth_pair, build_small_frame.
using namespace xcap::test;

// Set by SIGINT, SIGTERM and SIGHUP: the harness stops between runs.
extern volatile sig_atomic_t g_interrupted;
void on_signal(int);

std::string fmt(const char* f, auto... args) {
    int n = std::snprintf(nullptr, 0, f, args...);
    std::string b(size_t(std::max(n, 0)) + 1, '\0');
    std::snprintf(b.data(), b.size(), f, args...);
    b.resize(size_t(std::max(n, 0)));
    return b;
}

int64_t mono_ns();
void nap_ms(int ms);
std::string one_line(std::string s);
std::string json_str(const std::string& s);
bool write_file(const std::string& path, const std::string& text);
// A loss in percent with as many decimals as it needs.
std::string pct_text(double pct);
double median(std::vector<double> v);
// A comma-separated list, empty items left out.
std::vector<std::string> split(const std::string& s);

// ", a, b": the `file` of each item, as scenario::files() lists them.
template <class Items>
std::string file_list(const Items& items) {
    std::string s;
    for (const auto& item : items) {
        s += ", " + item.file;
    }
    return s;
}

// The entries of a flat `perf report --stdio -g none` (sorted by sym, or by
// comm,sym), at most `max`, in its order.
struct perf_entry {
    double pct = 0;
    std::string comm;  // "" when not sorted by comm
    bool kernel = false;
    std::string symbol;
};
std::vector<perf_entry> perf_entries(const std::string& report, size_t max = SIZE_MAX);

}  // namespace xcap::e2e
