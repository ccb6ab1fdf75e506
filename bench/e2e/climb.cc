#include "climb.h"

namespace xcap::e2e {

climb climb_rates(harness& h, const run_spec& base, const std::vector<double>& rates) {
    climb c;
    c.tool = base.tool;
    c.size = base.size;
    for (double mpps : rates) {
        run_spec s = base;
        s.asked_mpps = mpps;
        auto r = h.measure(s);
        if (!r.error.empty()) {
            c.runs.push_back(r);
            break;
        }
        if (!r.lossless()) {
            c.runs.push_back(r);
            r = h.measure(s);
        }
        c.runs.push_back(r);
        if (!r.lossless() || !r.reached() || h.over_time() || g_interrupted) {
            break;
        }
    }
    c.runs.shrink_to_fit();
    for (const auto& r : c.runs) {
        if (r.lossless() && (!c.best || r.offered_mpps > c.best->offered_mpps)) {
            c.best = &r;
        }
    }
    for (const auto& r : c.runs) {
        if (r.error.empty() && !r.lossless() && c.best && r.offered_mpps > c.best->offered_mpps) {
            c.bounded = true;
        }
    }
    return c;
}

}  // namespace xcap::e2e
