#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <string>

#include "modes/text.h"

#include "modes/capture.h"

namespace xcap {
using text::fmt;
using text::plural;

namespace {

// A rate in the unit its magnitude needs ("850 pps", "12.3 kpps",
// "1.234 Mpps"), so a slow link does not read "0.000 Mpps". The thresholds
// sit where rounding would print 1000 of the smaller unit. From mega up the
// form is the one the line always had: scripts may parse it.
std::string rate(double per_s, const char* unit, int mega_decimals) {
    if (per_s < 999.5) {
        return fmt("%.0f %s", per_s, unit);
    }
    if (per_s < 999'950) {
        return fmt("%.1f k%s", per_s / 1e3, unit);
    }
    return fmt("%.*f M%s", mega_decimals, per_s / 1e6, unit);
}

// Per interface (when there are several) and per queue: "queue 0: N
// received, D dropped", or "eth1: ..." and "eth1 queue 0: ...".
std::string per_queue_lines(const capture_totals& t) {
    std::string s;
    const bool several = t.interfaces.size() > 1;
    for (uint32_t i = 0; i < std::max<size_t>(t.interfaces.size(), 1); ++i) {
        std::string lines;
        uint64_t received = 0;
        uint64_t dropped = 0;
        for (const auto& q : t.queues) {
            if (q.interface != i) {
                continue;
            }
            received += q.received;
            dropped += q.dropped;
            lines += (several ? t.interfaces[i] + " " : std::string()) +
                     fmt("queue %u: %" PRIu64 " received, %" PRIu64 " dropped\n", q.queue, q.received, q.dropped);
        }
        if (several) {
            s += t.interfaces[i] + fmt(": %" PRIu64 " received, %" PRIu64 " dropped\n", received, dropped);
        }
        s += lines;
    }
    return s;
}

// The first two lines of every summary: what was written, and received.
std::string captured_lines(const capture_totals& t, const std::string& output_name) {
    std::string s;
    s += plural(t.written, "packet") + " captured (written to " + output_name + ")\n";
    s += plural(t.received, "packet") + " received by xcap";
    if (t.over_limit) {
        s += fmt(", %" PRIu64 " after the -c limit (not written)", t.over_limit);
    }
    if (t.snaplen_cut) {
        s += fmt(", %" PRIu64 " cut to the snaplen", t.snaplen_cut);
    }
    if (t.user_filtered) {
        s += fmt(", %" PRIu64 " did not match the filter (run in xcap: not written)", t.user_filter_rejected);
    }
    s += "\n";
    return s;
}

// With several interfaces, the --stats line goes on with each one's rate
// and drops: "; eth1 1.2 kpps, 0 dropped; eth2 ...".
// The queues of interface `iface` over the interval: "q0 10 pps 0 dropped,
// q1 11 pps 0 dropped". `prev` is matched by interface and queue.
std::string queue_stats(const capture_totals& prev, const capture_totals& now, double interval_s, uint32_t iface) {
    std::string s;
    for (const auto& q : now.queues) {
        if (q.interface != iface) {
            continue;
        }
        uint64_t before = 0;
        for (const auto& p : prev.queues) {
            before = p.interface == q.interface && p.queue == q.queue ? p.received : before;
        }
        s += (s.empty() ? "" : ", ") + fmt("q%u ", q.queue) +
             rate(double(q.received - std::min(q.received, before)) / interval_s, "pps", 3) +
             fmt(" %" PRIu64 " dropped", q.dropped);
    }
    return s;
}

// Per interface when there are several, and per queue where an interface
// has several: "; eth1 21 pps, 0 dropped [q0 10 pps 0 dropped, q1 ...]".
std::string per_interface_stats(const capture_totals& prev, const capture_totals& now, double interval_s) {
    const uint32_t ifaces = std::max<uint32_t>(uint32_t(now.interfaces.size()), 1);
    std::string s;
    for (uint32_t i = 0; i < ifaces; ++i) {
        uint64_t before = 0;
        uint64_t after = 0;
        uint64_t dropped = 0;
        uint32_t queues = 0;
        for (const auto& q : prev.queues) {
            before += q.interface == i ? q.received : 0;
        }
        for (const auto& q : now.queues) {
            after += q.interface == i ? q.received : 0;
            dropped += q.interface == i ? q.dropped : 0;
            queues += q.interface == i ? 1 : 0;
        }
        if (ifaces > 1) {
            s += "; " + now.interfaces[i] + " " + rate(double(after - std::min(after, before)) / interval_s, "pps", 3) +
                 fmt(", %" PRIu64 " dropped", dropped);
        }
        if (queues > 1) {
            s += (ifaces > 1 ? " [" : "; [") + queue_stats(prev, now, interval_s, i) + "]";
        }
    }
    return s;
}

}  // namespace

std::vector<interface_statistics> interface_counts(const capture_totals& t) {
    std::vector<interface_statistics> out(std::max<size_t>(t.interfaces.size(), 1));
    for (const auto& q : t.queues) {
        auto& st = out[q.interface < out.size() ? q.interface : 0];
        st.received += q.offered;
        st.dropped += q.dropped;
    }
    if (out.size() == 1) {
        out[0].dropped += t.write_errors + t.buffer_full;
    }
    return out;
}

uint64_t capture_totals::dropped() const {
    uint64_t n = write_errors + buffer_full + dropped_elsewhere;
    for (const auto& q : queues) {
        n += q.dropped;
    }
    return n;
}

std::vector<loss> socket_losses(const xdp_statistics& st, uint64_t too_large, uint64_t no_headroom) {
    return {
        {"rx_dropped", st.rx_dropped, "rx_dropped", 3},
        {"rx_invalid_descs", st.rx_invalid_descs},
        {"rx_ring_full", st.rx_ring_full, "ring_full", 1},
        {"rx_fill_ring_empty_descs", st.rx_fill_ring_empty_descs, "fill_empty", 2},
        {"tx_invalid_descs", st.tx_invalid_descs},
        {"tx_ring_empty_descs", st.tx_ring_empty_descs},
        // Frames longer than the sockets take (no multi-buffer).
        {"too_large", too_large, "too_large", 0, true},
        // No room in front of the frame for its metadata (where the kernel
        // refuses the metadata area; a driver with less than 32 bytes of
        // headroom).
        {"no_headroom", no_headroom, "no_headroom", 0, true},
    };
}

std::vector<std::string> redirect_program_lines(const xcap_rx_counters& pc, bool copy_mode_overlap, bool filtered,
                                                uint64_t rejected) {
    std::vector<std::string> lines;
    if (copy_mode_overlap) {
        lines.push_back("(in copy mode the kernel counts a packet dropped for want of a fill-ring frame in both "
                        "rx_dropped and rx_fill_ring_empty_descs; the total counts it once)");
    }
    if (filtered) {
        // The filter runs first: what it rejects never reaches the capture program.
        lines.push_back(fmt("XDP program: %llu seen, %llu matched and redirected, %" PRIu64
                            " did not match (passed to the stack)",
                            (unsigned long long)(pc.seen + rejected), (unsigned long long)pc.redirected, rejected) +
                        (pc.passed_no_socket ? fmt(", %llu matched but passed (no socket on their queue)",
                                                   (unsigned long long)pc.passed_no_socket)
                                             : std::string()));
    } else {
        lines.push_back(fmt("XDP program: %llu seen, %llu redirected, %llu passed (no socket on their queue)",
                            (unsigned long long)pc.seen, (unsigned long long)pc.redirected,
                            (unsigned long long)pc.passed_no_socket));
    }
    return lines;
}

std::vector<loss> ring_losses(uint64_t ring_full) { return {{"ring_full", ring_full, "ring_full", 1}}; }

std::string tap_program_line(const xcap_ring_counters& c, bool filtered, uint64_t rejected) {
    if (filtered) {
        return fmt("XDP tap program: %llu seen, %llu matched, %llu recorded, %llu not recorded (ring full), %" PRIu64
                   " did not match; every packet passed to the stack",
                   (unsigned long long)(c.seen + rejected), (unsigned long long)c.seen, (unsigned long long)c.recorded,
                   (unsigned long long)c.ring_full, rejected);
    }
    return fmt("XDP tap program: %llu seen, %llu recorded, %llu not recorded (ring full); every packet passed to "
               "the stack",
               (unsigned long long)c.seen, (unsigned long long)c.recorded, (unsigned long long)c.ring_full);
}

std::string format_summary(const capture_totals& t, const std::string& output_name) {
    std::string s = captured_lines(t, output_name);
    s += plural(t.dropped(), "packet") + " dropped: ";
    for (const auto& l : t.losses) {
        if (!l.only_when_nonzero) {
            s += l.name + fmt(" %" PRIu64 ", ", l.count);
        }
    }
    s += fmt("write_errors %" PRIu64, t.write_errors);
    if (t.buffer_full) {
        s += fmt(", buffer_full %" PRIu64, t.buffer_full);
    }
    for (const auto& l : t.losses) {
        if (l.only_when_nonzero && l.count) {
            s += ", " + l.name + fmt(" %" PRIu64, l.count);
        }
    }
    s += "\n";
    for (const auto& line : t.program_lines) {
        s += line + "\n";
    }
    s += per_queue_lines(t);
    if (t.meta_missing) {
        s += plural(t.meta_missing, "packet") + " had no XDP timestamp and were stamped on arrival in xcap\n";
    }
    return s;
}

std::string format_stats_line(const capture_totals& prev, const capture_totals& now, double interval_s) {
    if (interval_s <= 0) {
        interval_s = 1;
    }
    double pps = double(now.received - prev.received) / interval_s;
    double bps = double(now.received_bytes - prev.received_bytes) * 8 / interval_s;
    std::string line = fmt("%s, %s, %" PRIu64 " captured; dropped %" PRIu64 " (", rate(pps, "pps", 3).c_str(),
                           rate(bps, "bps", 1).c_str(), now.written, now.dropped());
    std::vector<const loss*> shown;
    for (const auto& l : now.losses) {
        if (l.stats_name && !l.only_when_nonzero) {
            shown.push_back(&l);
        }
    }
    std::stable_sort(shown.begin(), shown.end(), [](const loss* a, const loss* b) { return a->stats_rank < b->stats_rank; });
    for (const loss* l : shown) {
        line += fmt("%s %" PRIu64 ", ", l->stats_name, l->count);
    }
    line += fmt("write_errors %" PRIu64 ")", now.write_errors);
    if (now.buffer_full) {
        line += fmt("; %" PRIu64 " buffer_full", now.buffer_full);
    }
    for (const auto& l : now.losses) {
        if (l.stats_name && l.only_when_nonzero && l.count) {
            line += fmt("; %" PRIu64 " %s", l.count, l.stats_name);
        }
    }
    if (now.filtered || now.user_filtered) {
        line += fmt("; %" PRIu64 " did not match the filter", now.filter_rejected + now.user_filter_rejected);
    }
    return line + per_interface_stats(prev, now, interval_s);
}

}  // namespace xcap
