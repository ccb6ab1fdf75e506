#pragma once
// Phase "tap": capture on a live host. xcap --tap (a copy through BPF ring
// buffers, every packet on to the stack) beside tcpdump and netsniff-ng,
// which also leave every packet to the stack, at 64 and 1500 bytes: the
// highest lossless rate (paced steps), and own and machine CPU per packet
// at the highest rate every tool held.
#include "climb.h"
#include "harness.h"

namespace xcap::e2e {

class tap_bench : public scenario {
public:
    std::vector<std::string> phases() const override { return {"tap"}; }
    void run(harness& h) override;
    int section() const override { return 35; }
    void markdown(std::ostream& md, const harness& h) const override;
    void json(std::ostream& js, const harness& h) const override;

private:
    std::vector<climb> _climbs;
};

}  // namespace xcap::e2e
