#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <string>

#include "modes/text.h"
#include "modes/trace.h"

namespace xcap {
using text::fmt;
using text::plural;

std::string format_trace_summary(const trace_totals& t, const std::string& output_name) {
    const capture_totals& c = t.capture;
    std::string s;
    s += plural(c.written, "record") + " written to " + output_name;
    uint64_t packets = 0;
    for (const auto& p : t.programs) {
        packets += p.seen;
    }
    s += " (" + plural(packets, "packet") + " seen";
    const char* how = t.hook                     ? "recorded as the program left them"
                      : t.at_entry && t.at_exit ? "each recorded at entry and exit"
                      : t.at_entry              ? "recorded at entry"
                                                : "recorded at exit";
    if (t.filtered) {
        // As the tap summary does: what the filter left out, then what it let through.
        const uint64_t out = t.not_matched();
        s += fmt(", %" PRIu64 " did not match the filter, the other %" PRIu64 " %s)\n", out,
                 packets - std::min(packets, out), how);
    } else {
        s += fmt(", %s)\n", how);
    }
    s += plural(t.offered(), "record") + " offered to the ring buffer (" +
         fmt("%" PRIu64 " KiB", t.ring_bytes >> 10) + "), " + plural(c.received, "record") + " received by xcap";
    if (c.over_limit) {
        s += fmt(", %" PRIu64 " after the -c limit (not written)", c.over_limit);
    }
    if (c.snaplen_cut) {
        s += fmt(", %" PRIu64 " cut to the snaplen", c.snaplen_cut);
    }
    s += "\n";
    s += plural(t.ring_full() + c.write_errors, "record") + " lost: ring buffer full " +
         fmt("%" PRIu64, t.ring_full());
    if (t.ring_full()) {
        // Per CPU, the CPUs that lost any (the programs run on the CPU of the packet).
        std::vector<uint64_t> per_cpu;
        for (const auto& p : t.programs) {
            per_cpu.resize(std::max(per_cpu.size(), p.ring_full_per_cpu.size()));
            for (size_t i = 0; i < p.ring_full_per_cpu.size(); ++i) {
                per_cpu[i] += p.ring_full_per_cpu[i];
            }
        }
        std::string list;
        for (size_t i = 0; i < per_cpu.size(); ++i) {
            if (per_cpu[i]) {
                list += fmt("%scpu%zu %" PRIu64, list.empty() ? "" : ", ", i, per_cpu[i]);
            }
        }
        s += " (" + list + ")";
    }
    s += fmt(", write_errors %" PRIu64 "\n", c.write_errors);
    static constexpr struct {
        int action;
        const char* name;
    } order[] = {{2, "XDP_PASS"}, {1, "XDP_DROP"}, {3, "XDP_TX"}, {4, "XDP_REDIRECT"}, {0, "XDP_ABORTED"}};
    for (const auto& p : t.programs) {
        if (!t.at_exit) {
            s += p.name + ": " + plural(p.seen, "packet") + " (actions are seen at exit; not traced)\n";
            continue;
        }
        s += p.name + ":";
        for (const auto& o : order) {
            s += fmt("%s %s %" PRIu64, o.action == 2 ? "" : ",", o.name, p.actions[o.action]);
        }
        if (p.actions[XCAP_XDP_ACTIONS]) {
            s += fmt(", other %" PRIu64, p.actions[XCAP_XDP_ACTIONS]);
        }
        s += "\n";
    }
    return s;
}

}  // namespace xcap
