#pragma once
// Phase "filter": a flood of 64-byte UDP frames to 100 destination ports in
// turn, addressed to the receiver, captured with a filter that matches one
// port (1% of the frames), by xcap (the expression runs in its XDP program)
// and by tcpdump and netsniff-ng with the same expression (the kernel's
// classic socket filter, after the skb is built). Own and machine CPU per
// offered packet, losses among the matches, and where the 99% went: the
// receiving namespace's IP and UDP counters.
#include <map>

#include "harness.h"

namespace xcap::e2e {

class filter_bench : public scenario {
public:
    std::vector<std::string> phases() const override { return {"filter"}; }
    void run(harness& h) override;
    int section() const override { return 35; }
    void markdown(std::ostream& md, const harness& h) const override;
    void json(std::ostream& js, const harness& h) const override;

private:
    struct filter_run {
        int round = 0;
        run_result r;
        int64_t ip_in = -1, udp_noports = -1, udp_in = -1;  // receiving namespace, over the run
        int64_t xcap_seen = -1, xcap_matched = -1, xcap_unmatched = -1;  // xcap's own summary
        double own_ns() const;      // per offered packet
        double rx_ns() const;
        double machine_ns() const { return own_ns() + rx_ns(); }
        // Packets that should have reached the stack: the non-matching ones
        // for xcap (the matches are redirected), every one for the others.
        uint64_t to_stack(uint64_t matches) const;
    };

    std::map<std::string, int64_t> snmp(const harness& h) const;
    std::string ratio_line(const std::string& peer) const;

    std::vector<filter_run> _runs;
    std::string _expr, _why_not;
    uint64_t _matches = 0;  // expected matches per run
};

}  // namespace xcap::e2e
