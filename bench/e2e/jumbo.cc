#include "jumbo.h"

#include <algorithm>

#include "replay.h"

namespace xcap::e2e {

namespace {

constexpr uint32_t jumbo_frame = 9014;  // MTU 9000 plus the Ethernet header

// Both ends of the pair at `mtu` while it lives, 1500 again after.
struct pair_mtu {
    const veth_pair& net;
    bool ok = false;
    pair_mtu(const veth_pair& n, uint32_t mtu) : net(n) {
        ok = sh("ip -n " + net.sender_ns() + " link set " + net.sender_if() + " mtu " + std::to_string(mtu) +
                " && ip -n " + net.receiver_ns() + " link set " + net.receiver_if() + " mtu " + std::to_string(mtu))
                 .status == 0;
    }
    ~pair_mtu() {
        sh("ip -n " + net.sender_ns() + " link set " + net.sender_if() + " mtu 1500; ip -n " + net.receiver_ns() +
           " link set " + net.receiver_if() + " mtu 1500");
    }
};

// Own CPU per packet, exact (schedstat) where the kernel gives it: at a few
// hundred thousand packets the tick-sampled utime+stime moves in steps of
// hundreds of ns per packet.
double own_ns(const run_result& r) {
    return r.own_exact_s >= 0 && r.written ? r.own_exact_s * 1e9 / double(r.written) : r.own_ns();
}
double machine_ns(const run_result& r) {
    return r.written ? own_ns(r) + std::max(r.rx_softirq_s, 0.0) * 1e9 / double(r.written) : 0;
}

}  // namespace

void jumbo_bench::run(harness& h) {
    if (!h.want("jumbo") || g_interrupted) {
        return;
    }
    pair_mtu mtu(h.net(), 9000);
    if (!mtu.ok) {
        _error = "cannot set MTU 9000 on the veth pair";
        return;
    }
    // 10,000 frames (90 MB), sent `loops` times a run.
    const uint64_t in_file = 10'000;
    const uint32_t loops = h.quick() ? 3 : 10;
    const std::string file = make_replay_file(h, jumbo_frame, in_file);
    const std::vector<double> rates = h.quick() ? std::vector<double>{0.05, 0.1}
                                                : std::vector<double>{0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4};
    for (const char* tool : k_tools) {
        if (h.over_time() || g_interrupted || !h.want_tool(tool)) {
            continue;
        }
        run_spec s{"jumbo", tool, jumbo_frame, 0, in_file * loops};
        s.replay_file = file;
        s.replay_loops = loops;
        _climbs.push_back(climb_rates(h, s, rates));
    }
}

void jumbo_bench::markdown(std::ostream& md, const harness&) const {
    md << "\n## Jumbo frames: 9,014 bytes at MTU 9000\n\n";
    if (!_error.empty()) {
        md << "Not run: " << _error << ".\n";
        return;
    }
    if (_climbs.empty()) {
        md << "Not run (phase `jumbo`).\n";
        return;
    }
    md << "Both ends of the veth pair at MTU 9000. The generator is `xcap replay --pps R` of a file of 10,000 "
          "frames of 9,014 bytes, sent 10 times a run (3 with `--quick`), on CPU 0 (xcap-flood's live frames "
          "cannot be larger than a page). No XDP program is put on the receiving interface for tcpdump and "
          "netsniff-ng (their frames arrive through the veth's normal path); xcap attaches its own, frags-aware, "
          "with multi-buffer AF_XDP sockets. Each tool steps up the paced rate until it loses packets (a loss is "
          "run once more). Own CPU (exact, from schedstat) and machine CPU (own plus the receive path, NET_RX softirq) "
          "per packet written, at every step.\n\n";
    md << "| tool | highest lossless rate | own ns/pkt there | machine ns/pkt there | steps: offered Mpps, own / machine ns per packet |\n";
    md << "|---|---|---|---|---|\n";
    for (const auto& c : _climbs) {
        std::string steps;
        for (const auto& r : c.runs) {
            steps += steps.empty() ? "" : "; ";
            if (!r.error.empty()) {
                steps += fmt("%.2f: failed (%s)", r.spec.asked_mpps, r.error.c_str());
            } else if (r.lossless()) {
                steps += fmt("%.3f ok %.0f / %.0f", r.offered_mpps, own_ns(r), machine_ns(r));
            } else {
                steps += fmt("%.3f lost %s", r.offered_mpps, pct_text(r.loss_pct()).c_str());
            }
        }
        std::string best = c.best ? fmt("%s%.3f Mpps (%.1f Gbit/s)", c.bounded ? "" : "≥ ", c.best->offered_mpps,
                                        c.best->offered_mpps * 1e6 * jumbo_frame * 8 / 1e9)
                                  : std::string("none");
        md << "| " << c.tool << " | " << best << " | "
           << (c.best ? fmt("%.0f", own_ns(*c.best)) : std::string("-")) << " | "
           << (c.best ? fmt("%.0f", machine_ns(*c.best)) : std::string("-")) << " | " << steps << " |\n";
    }
}

void jumbo_bench::json(std::ostream& js, const harness&) const {
    js << ",\n  \"jumbo\": [";
    bool first = true;
    for (const auto& c : _climbs) {
        js << (first ? "" : ",") << "\n    {\"tool\": " << json_str(c.tool)
           << ", \"best_mpps\": " << (c.best ? fmt("%.4f", c.best->offered_mpps) : std::string("null"))
           << ", \"bounded\": " << (c.bounded ? "true" : "false")
           << ", \"own_ns\": " << (c.best ? fmt("%.1f", own_ns(*c.best)) : std::string("null"))
           << ", \"machine_ns\": " << (c.best ? fmt("%.1f", machine_ns(*c.best)) : std::string("null")) << "}";
        first = false;
    }
    js << "\n  ]";
}

}  // namespace xcap::e2e
