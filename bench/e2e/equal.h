#pragma once
// Phase "equal": every tool offered the same paced rate (64 B at 0.5 and
// 1.0 Mpps, 512 B at 0.5, 1500 B at 0.25), three rounds with the tools
// taking turns; own, receive-path and machine CPU per packet, medians.
#include <optional>
#include <utility>

#include "harness.h"

namespace xcap::e2e {

class equal_rate : public scenario {
public:
    // One tool at one equal-rate point: the medians of its runs.
    struct equal_stat {
        std::string tool;
        int runs = 0, lossless_runs = 0;
        double offered_mpps = 0, own = 0, own_lo = 0, own_hi = 0, rx = 0, machine = 0, worst_loss = 0;
        double setup_s = 0, setup_cpu_s = 0;
        std::string drops;  // what the tool said, for runs that lost packets
        bool lossless() const { return lossless_runs == runs; }
    };

    std::vector<std::string> phases() const override { return {"equal"}; }
    void run(harness& h) override;
    int section() const override { return 10; }
    void markdown(std::ostream& md, const harness& h) const override;

    // For the CPU plot (plots.cc).
    const std::vector<run_result>& runs() const { return _runs; }
    std::optional<equal_stat> equal_point(const std::string& tool, uint32_t size, double mpps) const;
    std::vector<std::pair<uint32_t, double>> equal_points() const;

private:
    std::string equal_error(const std::string& tool, uint32_t size, double mpps) const;

    std::vector<run_result> _runs;
};

}  // namespace xcap::e2e
