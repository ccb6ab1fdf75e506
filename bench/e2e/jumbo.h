#pragma once
// Phase "jumbo": 9,000-byte frames (9,014 on the wire) on a veth pair at
// MTU 9000 both ends. xcap-flood cannot make them (BPF_PROG_RUN's live-frame
// mode refuses frames larger than a page), so the generator is `xcap replay`
// of a generated file, paced with --pps, on CPU 0 as the flood is. Each tool
// (xcap with multi-buffer sockets, tcpdump, netsniff-ng) steps up the paced
// rate until it loses packets: its highest lossless rate, and own and
// machine CPU per packet at every step, so the tools can be compared at the
// same offered rate.
#include "climb.h"
#include "harness.h"

namespace xcap::e2e {

class jumbo_bench : public scenario {
public:
    std::vector<std::string> phases() const override { return {"jumbo"}; }
    void run(harness& h) override;
    int section() const override { return 36; }
    void markdown(std::ostream& md, const harness& h) const override;
    void json(std::ostream& js, const harness& h) const override;

private:
    std::vector<climb> _climbs;
    std::string _error;  // why the phase could not run
};

}  // namespace xcap::e2e
