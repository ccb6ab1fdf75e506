#pragma once
// Phase "xdpdump": whether xdpdump can run here at all. Its fentry program
// is refused on this kernel, and its legacy mode needs an interface without
// the XDP program the generator's frames need, so it is probed, not measured.
#include "harness.h"

namespace xcap::e2e {

class xdpdump_probe : public scenario {
public:
    std::vector<std::string> phases() const override { return {"xdpdump"}; }
    void run(harness& h) override;
    int section() const override { return 60; }
    void markdown(std::ostream& md, const harness& h) const override;
    void json(std::ostream& js, const harness& h) const override;

private:
    std::string _result;
};

}  // namespace xcap::e2e
