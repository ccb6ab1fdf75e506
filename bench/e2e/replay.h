#pragma once
// Phases "replay" and "pacing": xcap replay --topspeed against tcpreplay
// --topspeed -K, wall clock from start to the last packet delivered (the
// receiver's XDP sink stamps it); and xcap replay's pacing error at 100 kpps
// beside how often the machine itself pauses a spinning thread.
#include "harness.h"

namespace xcap::e2e {

struct replay_result {
    std::string tool;
    uint64_t packets = 0;       // in the file
    uint64_t delivered = 0;     // counted by the receiver's sink
    double wall_s = 0;          // process start to the last packet delivered
    double first_s = 0;         // process start to the first packet delivered
    double send_mpps = 0;       // first to last delivered
    std::string reported;       // the tool's own rate line
    std::string error;
};

class replay_bench : public scenario {
public:
    std::vector<std::string> phases() const override { return {"replay", "pacing"}; }
    void run(harness& h) override;
    int section() const override { return 40; }
    void markdown(std::ostream& md, const harness& h) const override;
    void json(std::ostream& js, const harness& h) const override;

private:
    replay_result replay(harness& h, const std::string& tool, const std::string& file, uint64_t n);
    void replays(harness& h);
    const replay_result* best_replay(const std::string& tool) const;
    std::string machine_pauses();
    void pacing_precision(harness& h);

    std::vector<replay_result> _replays;
    // Pacing, run several times: each run's p50/p99/max as xcap printed them,
    // with what the machine paused just before it.
    struct pacing_run {
        std::string p50, p99, max, pauses;
    };
    std::vector<pacing_run> _pacing_runs;
    std::string _pacing = "not measured", _pauses;
    double _pauses_per_s = 0, _longest_pause_ms = 0;
};

// A pcap of n frames of `size` bytes in the harness's scratch folder.
std::string make_replay_file(const harness& h, uint32_t size, uint64_t n);

}  // namespace xcap::e2e
