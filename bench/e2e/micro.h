#pragma once
// No phase of its own: the Google Benchmark micro-benchmarks' JSON that
// scripts/bench.sh wrote into the results folder just before this run,
// as a table in latest.md.
#include "harness.h"

namespace xcap::e2e {

class micro_table : public scenario {
public:
    std::vector<std::string> phases() const override { return {}; }
    void run(harness&) override {}
    int section() const override { return 50; }
    void markdown(std::ostream& md, const harness& h) const override;
};

}  // namespace xcap::e2e
