#pragma once
// A tool's paced rate stepped up until it loses packets, as the tap and
// jumbo phases climb: a step that loses is run once more (a transient on a
// shared machine is not the tool's limit), and the climb stops at a loss,
// an error, the generator's limit or the time limit.
#include <string>
#include <vector>

#include "harness.h"

namespace xcap::e2e {

struct climb {
    std::string tool;
    uint32_t size = 64;
    std::vector<run_result> runs;
    const run_result* best = nullptr;  // the highest offered rate with nothing lost
    bool bounded = false;              // a run at a higher rate lost packets
};

// Runs `base` at each rate in turn (its asked_mpps replaced). The result's
// runs must not move afterwards: `best` points into them.
climb climb_rates(harness& h, const run_spec& base, const std::vector<double>& rates);

}  // namespace xcap::e2e
