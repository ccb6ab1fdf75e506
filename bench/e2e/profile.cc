#include "profile.h"

#include <sys/stat.h>

#include <regex>

namespace xcap::e2e {

void xcap_profile::run(harness& h) {
    if (!h.want("profile") || g_interrupted) {
        return;
    }
    if (!h.want_tool("xcap")) {
        return;
    }
    if (sh("perf --version").status != 0) {
        _note = "perf is not installed (Debian: linux-perf)";
        return;
    }
    auto r = h.measure({"profile", "xcap", 64, 1.0, h.quick() ? 300'000u : 3'000'000u, false, true});
    if (!r.error.empty()) {
        _note = "profile run failed: " + r.error;
    } else {
        keep_profile(h, h.perf_data());
    }
}

void xcap_profile::keep_profile(const harness& h, const std::string& data) {
    const std::string report = h.out() + "/profile-xcap-64B.txt";
    mkdir(h.out().c_str(), 0755);
    auto full = sh("perf report -i " + quote(data) + " --no-children --sort sym --stdio 2>/dev/null | head -60");
    write_file(report, full.output);
    // The flat list, for the summary: every symbol's own share.
    auto flat = sh("perf report -i " + quote(data) + " --no-children --sort sym --stdio -g none 2>/dev/null");
    double kernel = 0, user = 0;
    for (const auto& e : perf_entries(flat.output)) {
        (e.kernel ? kernel : user) += e.pct;
        if (_top.size() < 12) {
            _top.push_back({e.symbol + (e.kernel ? " [kernel]" : " [user]"), e.pct});
        }
    }
    _kernel_pct = kernel;
    _user_pct = user;
    std::smatch sm;
    if (std::regex_search(full.output, sm, std::regex("# Samples: ([0-9.]+[KM]?) +of event '([^']+)'"))) {
        _samples = sm[1].str() + " samples of " + sm[2].str();
    }
}

void xcap_profile::markdown(std::ostream& md, const harness&) const {
    // Profile
    md << "\n## Where xcap's time goes (perf, 64 B at 1.0 Mpps)\n\n";
    if (_top.empty()) {
        md << (_note.empty() ? std::string("Not profiled in this run.") : _note) << "\n";
    } else {
        md << "`perf record -g` of the xcap process during the flood, in a run of its own (perf's cost is in no "
              "figure above); " << _samples << "; `perf report --no-children --sort sym` in "
              "`profile-xcap-64B.txt`. Kernel " << fmt("%.0f%%", _kernel_pct) << ", user space "
           << fmt("%.0f%%", _user_pct) << ". The top entries (own share):\n\n";
        md << "| share | symbol |\n|---|---|\n";
        for (const auto& [sym, pct] : _top) {
            md << fmt("| %.1f%% | `%s` |\n", pct, sym.c_str());
        }
    }
}

void xcap_profile::json(std::ostream& js, const harness&) const {
    js << ",\n  \"profile\": {\"samples\": " << json_str(_samples) << ", \"kernel_pct\": "
       << fmt("%.1f", _kernel_pct) << ", \"user_pct\": " << fmt("%.1f", _user_pct) << ", \"top\": [";
    for (size_t i = 0; i < _top.size(); ++i) {
        js << (i ? ", " : "") << "{\"symbol\": " << json_str(_top[i].first)
           << fmt(", \"pct\": %.2f}", _top[i].second);
    }
    js << "]}";
}

}  // namespace xcap::e2e
