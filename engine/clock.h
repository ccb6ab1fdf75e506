#pragma once

#include <cstdint>

namespace xcap {

// CLOCK_REALTIME minus CLOCK_MONOTONIC, the offset that turns the BPF
// program's bpf_ktime_get_ns() stamps into wall-clock time.
struct clock_offset {
    int64_t realtime_minus_monotonic_ns = 0;
    int64_t uncertainty_ns = 0;  // half the width of the tightest sampling window
};

// Reads MONOTONIC, REALTIME, MONOTONIC `samples` times and keeps the sample
// whose two MONOTONIC reads were closest together, so the offset is known to
// within a few tens of nanoseconds even when the thread is preempted.
clock_offset measure_clock_offset(int samples = 64);

int64_t monotonic_ns();
int64_t realtime_ns();

}  // namespace xcap
