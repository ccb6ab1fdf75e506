#include "engine/clock.h"

#include <time.h>

#include <limits>

namespace xcap {
namespace {

int64_t read(clockid_t id) {
    timespec ts;
    clock_gettime(id, &ts);
    return int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace

int64_t monotonic_ns() { return read(CLOCK_MONOTONIC); }
int64_t realtime_ns() { return read(CLOCK_REALTIME); }

clock_offset measure_clock_offset(int samples) {
    clock_offset best;
    int64_t best_width = std::numeric_limits<int64_t>::max();
    for (int i = 0; i < samples; ++i) {
        int64_t m1 = read(CLOCK_MONOTONIC);
        int64_t r = read(CLOCK_REALTIME);
        int64_t m2 = read(CLOCK_MONOTONIC);
        if (m2 - m1 < best_width) {
            best_width = m2 - m1;
            // The REALTIME read happened somewhere between m1 and m2; the
            // midpoint is the best estimate, off by at most half the width.
            best.realtime_minus_monotonic_ns = r - (m1 + (m2 - m1) / 2);
            best.uncertainty_ns = (m2 - m1 + 1) / 2;
        }
    }
    return best;
}

}  // namespace xcap
