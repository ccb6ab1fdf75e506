#include "util.h"

#include <time.h>

#include <fstream>
#include <regex>
#include <sstream>

namespace xcap::e2e {

volatile sig_atomic_t g_interrupted = 0;

void on_signal(int) { g_interrupted = 1; }

int64_t mono_ns() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

void nap_ms(int ms) {
    timespec ts{ms / 1000, (ms % 1000) * 1'000'000L};
    nanosleep(&ts, nullptr);
}

std::string one_line(std::string s) {
    std::replace(s.begin(), s.end(), '\n', ' ');
    while (!s.empty() && s.back() == ' ') {
        s.pop_back();
    }
    return s;
}

std::string json_str(const std::string& s) {
    std::string o = "\"";
    for (char c : s) {
        if (c == '"' || c == '\\') {
            o += '\\';
            o += c;
        } else if (uint8_t(c) < 0x20) {
            o += fmt("\\u%04x", unsigned(uint8_t(c)));
        } else {
            o += c;
        }
    }
    return o + "\"";
}

bool write_file(const std::string& path, const std::string& text) {
    std::ofstream f(path);
    f << text;
    f.flush();
    return bool(f);
}

std::string pct_text(double pct) {
    if (pct >= 1) {
        return fmt("%.1f%%", pct);
    }
    if (pct >= 0.01) {
        return fmt("%.2f%%", pct);
    }
    return fmt("%.4f%%", pct);
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0 : v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

std::vector<std::string> split(const std::string& s) {
    std::vector<std::string> v;
    std::istringstream in(s);
    for (std::string w; std::getline(in, w, ',');) {
        if (!w.empty()) {
            v.push_back(w);
        }
    }
    return v;
}

std::vector<perf_entry> perf_entries(const std::string& report, size_t max) {
    static const std::regex line_re("^\\s*([0-9.]+)%\\s+(?:(\\S+)\\s+)?\\[([k.])\\]\\s+(.+?)\\s*$");
    std::vector<perf_entry> out;
    std::istringstream in(report);
    for (std::string line; out.size() < max && std::getline(in, line);) {
        std::smatch m;
        if (std::regex_match(line, m, line_re)) {
            out.push_back({std::stod(m[1]), m[2].str(), m[3] == "k", m[4].str()});
        }
    }
    return out;
}

}  // namespace xcap::e2e
