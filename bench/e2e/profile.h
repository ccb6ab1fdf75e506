#pragma once
// Phase "profile": perf record -g of xcap at 1.0 Mpps, 64 B, in a run of its
// own (perf's cost reaches no other figure); profile-xcap-64B.txt and the
// top symbols.
#include <utility>

#include "harness.h"

namespace xcap::e2e {

class xcap_profile : public scenario {
public:
    std::vector<std::string> phases() const override { return {"profile"}; }
    void run(harness& h) override;
    int section() const override { return 20; }
    void markdown(std::ostream& md, const harness& h) const override;
    void json(std::ostream& js, const harness& h) const override;
    std::string files() const override { return _top.empty() ? "" : ", profile-xcap-64B.txt"; }

private:
    void keep_profile(const harness& h, const std::string& data);

    std::string _note, _samples;
    std::vector<std::pair<std::string, double>> _top;
    double _kernel_pct = 0, _user_pct = 0;
};

}  // namespace xcap::e2e
