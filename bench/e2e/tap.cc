#include "tap.h"

#include <cinttypes>
#include <map>

namespace xcap::e2e {

namespace {

// The tools of this phase: xcap in tap mode ("xcap-tap", see tools.cc) and
// the peers that, like it, leave every packet to the stack.
const char* const tap_tools[] = {"xcap-tap", "tcpdump", "netsniff-ng"};

}  // namespace

void tap_bench::run(harness& h) {
    if (!h.want("tap")) {
        return;
    }
    std::map<uint32_t, std::vector<double>> rates;
    if (h.quick()) {
        rates = {{64, {0.5, 1.0}}, {1500, {0.25, 0.5}}};
    } else {
        rates = {{64, {0.25, 0.5, 0.75, 1.0, 1.5, 2.0}}, {1500, {0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5}}};
    }
    const uint64_t count = h.quick() ? 200'000 : 500'000;
    for (uint32_t size : {64u, 1500u}) {
        for (const char* tool : tap_tools) {
            if (h.over_time() || g_interrupted || !h.want_tool(tool)) {
                continue;
            }
            _climbs.push_back(climb_rates(h, {"tap", tool, size, 0, count}, rates[size]));
        }
    }
}

void tap_bench::markdown(std::ostream& md, const harness&) const {
    md << "\n## Tap: capture on a live host\n\n";
    if (_climbs.empty()) {
        md << "Not run (phase `tap`).\n";
        return;
    }
    md << "xcap `--tap` (each packet copied into its CPU's BPF ring buffer and passed on) beside tcpdump "
          "(`-B 65536`) and netsniff-ng, all three leaving every packet to the network stack, in the same run. "
          "Paced steps of 500,000 packets (200,000 with `--quick`); a step that loses packets is run once more. "
          "The best is the highest offered rate with nothing lost (≥ when no higher step lost any); own and "
          "machine CPU per packet are those of that run (machine: the tool's own CPU plus the kernel's receive "
          "path, NET_RX softirq, which here includes the stack's own processing of every packet).\n\n";
    md << "| size | tool | highest lossless rate | own ns/pkt | machine ns/pkt | steps (offered Mpps) |\n";
    md << "|---|---|---|---|---|---|\n";
    for (const auto& c : _climbs) {
        std::string steps;
        for (const auto& r : c.runs) {
            steps += steps.empty() ? "" : ", ";
            if (!r.error.empty()) {
                steps += fmt("%.2f: failed (%s)", r.spec.asked_mpps, r.error.c_str());
            } else if (r.lossless()) {
                steps += fmt("%.2f ok", r.offered_mpps);
            } else {
                steps += fmt("%.2f lost %s", r.offered_mpps, pct_text(r.loss_pct()).c_str());
            }
        }
        std::string best = c.best ? fmt("%s%.2f Mpps", c.bounded ? "" : "≥ ", c.best->offered_mpps)
                                  : std::string("none");
        md << "| " << c.size << " B | " << c.tool << " | " << best << " | "
           << (c.best ? fmt("%.0f", c.best->own_ns()) : std::string("-")) << " | "
           << (c.best ? fmt("%.0f", c.best->machine_ns()) : std::string("-")) << " | " << steps << " |\n";
    }
}

void tap_bench::json(std::ostream& js, const harness&) const {
    js << ",\n  \"tap\": [";
    bool first = true;
    for (const auto& c : _climbs) {
        js << (first ? "" : ",") << "\n    {\"tool\": " << json_str(c.tool) << ", \"size\": " << c.size
           << ", \"best_mpps\": " << (c.best ? fmt("%.4f", c.best->offered_mpps) : std::string("null"))
           << ", \"bounded\": " << (c.bounded ? "true" : "false")
           << ", \"own_ns\": " << (c.best ? fmt("%.1f", c.best->own_ns()) : std::string("null"))
           << ", \"machine_ns\": " << (c.best ? fmt("%.1f", c.best->machine_ns()) : std::string("null")) << "}";
        first = false;
    }
    js << "\n  ]";
}

}  // namespace xcap::e2e
