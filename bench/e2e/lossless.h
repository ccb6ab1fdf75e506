#pragma once
// Phases "ladder", "budget" and "zero": the highest lossless rate of each
// tool at 64, 512 and 1500 bytes (paced stepping), the same at 64 bytes with
// each tool held to 30% of one core (cgroup), and xcap's zero loss over
// 5,000,000 packets at the generator's top rate. With "zero" (not --quick),
// a profile of CPU 0 during one more unpaced flood per tool: where the
// receive work that the generator shares its core with goes.
#include <optional>

#include "harness.h"

namespace xcap::e2e {

// One tool's climb at one frame size.
struct ladder {
    std::string tool;
    uint32_t size = 64;
    bool budget = false;
    std::vector<run_result> runs;
    std::optional<double> best;     // highest offered rate with nothing lost
    double best_own_ns = 0;
    double best_core_pct = 0;       // the tool's CPU during that flood, % of one core
    uint64_t best_throttled = 0;    // budget: periods it ran out of quota in that run
    bool generator_limited = false; // the best is where the generator stopped, not the tool
    bool bounded = false;           // a run at a higher offered rate lost packets
    std::string note;
};

class lossless : public scenario {
public:
    std::vector<std::string> phases() const override { return {"ladder", "budget", "zero"}; }
    void run(harness& h) override;
    int section() const override { return 30; }
    void markdown(std::ostream& md, const harness& h) const override;
    void json(std::ostream& js, const harness& h) const override;

    // For the loss plot (plots.cc).
    const std::vector<ladder>& ladders() const { return _ladders; }
    const std::vector<ladder>& budget() const { return _budget; }

private:
    void ladders(harness& h);
    void budget_ladders(harness& h);
    void zero_loss(harness& h);
    uint64_t step_count(const harness& h, double mpps, bool budget) const;
    ladder climb(harness& h, const std::string& tool, uint32_t size, const std::vector<double>& rates, bool budget);
    ladder climb_steps(harness& h, const std::string& tool, uint32_t size, const std::vector<double>& rates,
                       bool budget);

    std::vector<ladder> _ladders, _budget;
    std::vector<run_result> _zero;
    // perf record -C 0 during an unpaced flood, per tool: the top symbols
    // of CPU 0 (percent of its samples) and the report's file name.
    struct cpu0_profile {
        std::string tool, file;
        double offered_mpps = 0;
        std::vector<std::pair<std::string, double>> top;
    };
    std::vector<cpu0_profile> _cpu0;
    void profile_cpu0(harness& h, uint64_t n);
    void cpu0_markdown(std::ostream& md) const;
    std::string files() const override;
};

}  // namespace xcap::e2e
