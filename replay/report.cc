#include "replay/report.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>

namespace xcap {
namespace {

// What the skipped frames were larger than: the interface's limit, or one
// UMEM frame where the kernel cannot send a frame as several.
std::string takes(const replay_totals& t, const std::string& device, uint32_t mtu) {
    if (t.frame_limit) {
        return "one AF_XDP frame (" + std::to_string(t.frame_limit) +
               " bytes: this kernel's AF_XDP has no multi-buffer, Linux 6.6 or later has it)";
    }
    return device + " takes (" + (mtu ? "MTU " + std::to_string(mtu) + ": " : std::string()) +
           std::to_string(t.max_frame) + " bytes, " + std::to_string(t.max_frame + 4) + " with a VLAN tag)";
}

std::string human_ns(uint64_t ns) {
    char b[32];
    if (ns < 10'000) {
        std::snprintf(b, sizeof(b), "%.1f µs", double(ns) / 1e3);
    } else if (ns < 10'000'000) {
        std::snprintf(b, sizeof(b), "%.0f µs", double(ns) / 1e3);
    } else {
        std::snprintf(b, sizeof(b), "%.1f ms", double(ns) / 1e6);
    }
    return b;
}

std::string progress_text(const replay_options& opts, uint64_t planned, uint64_t sent, double rate) {
    char line[256];
    // The end is known from --loop (not 0) or --limit, whichever comes first.
    uint64_t total = planned && opts.loops ? planned * opts.loops : 0;
    if (opts.limit) {
        total = total ? std::min(total, opts.limit) : opts.limit;
    }
    if (total) {
        double pct = 100.0 * double(sent) / double(total);
        double eta = rate > 0 ? double(total - std::min(sent, total)) / rate : 0;
        std::snprintf(line, sizeof(line), "%5.1f%% of %s, %" PRIu64 " sent, %.3f Mpps, ETA %.0f s", pct,
                      opts.input.c_str(), sent, rate / 1e6, eta);
    } else {
        std::snprintf(line, sizeof(line), "%" PRIu64 " sent, %.3f Mpps", sent, rate / 1e6);
    }
    return line;
}

}  // namespace

void tell_skipped(const replay_totals& t, const device_info& dev, const replay_log& log) {
    if (!t.skipped_too_big) {
        return;
    }
    log.info("skipping " + std::to_string(t.skipped_too_big) + " packet" + (t.skipped_too_big == 1 ? "" : "s") +
             " larger than " + takes(t, dev.name, dev.mtu) + "; the first is packet " +
             std::to_string(t.first_too_big) + " (" + std::to_string(t.first_too_big_len) + " bytes)");
}

void tell_nothing_to_send(const replay_options& opts, uint64_t readable, const replay_log& log) {
    log.info("all " + std::to_string(readable) + " packets of " + opts.input + " are skipped; nothing to send");
}

void progress_meter::report(int64_t now, uint64_t sent) {
    // The first line has no interval behind it: no rate yet.
    const double rate = _last_ns ? double(sent - _last_sent) / (double(now - _last_ns) / 1e9) : 0;
    _log.progress(progress_text(_opts, _planned, sent, rate));
    _last_ns = now;
    _last_sent = sent;
}

void progress_meter::clear() const {
    if (_opts.progress) {
        _log.progress("");
    }
}

std::string format_replay_summary(const replay_totals& t, const std::string& device) {
    std::string s;
    char b[512];
    double secs = t.seconds > 0 ? t.seconds : 1e-9;
    std::snprintf(b, sizeof(b), "sent %" PRIu64 " packets (%" PRIu64 " bytes) in %.3f s: %.3f Mpps, %.1f Mbps%s\n", t.sent,
                  t.sent_bytes, t.seconds, double(t.sent) / secs / 1e6, double(t.sent_bytes) * 8 / secs / 1e6,
                  t.xdp_tx ? " (preloaded, XDP live frames)" : t.preloaded ? " (preloaded)" : " (streamed)");
    s += b;
    if (t.xdp_tx) {
        std::snprintf(b, sizeof(b),
                      "sent with XDP live frames (XDP_TX): %" PRIu64 " handed to the driver; %" PRIu64
                      " could not be built; the interface's own counters say what it sent\n",
                      t.sent + t.dropped_by_interface, t.xdp_failed);
        s += b;
    }
    if (t.dropped_by_interface) {
        std::string counter = "its tx_dropped counter";
        if (t.interface_tx_dropped != t.dropped_by_interface) {
            counter += " rose by " + std::to_string(t.interface_tx_dropped) + ", other senders' drops included";
        }
        std::snprintf(b, sizeof(b), "dropped by %s: %" PRIu64 " packets (%s), not counted as sent\n", device.c_str(),
                      t.dropped_by_interface, counter.c_str());
        s += b;
    }
    if (t.paced && t.errors.count()) {
        s += "send-time error against the schedule: p50 " + human_ns(t.errors.quantile(0.5)) + ", p99 " +
             human_ns(t.errors.quantile(0.99)) + ", max " + human_ns(t.errors.max()) + "\n";
    }
    if (t.skipped_too_big || t.skipped_too_short || t.truncated) {
        std::snprintf(b, sizeof(b),
                      "skipped %" PRIu64 " larger than %s and %" PRIu64
                      " shorter than an Ethernet header; sent %" PRIu64 " as captured though shorter than on the wire\n",
                      t.skipped_too_big, takes(t, device, 0).c_str(), t.skipped_too_short, t.truncated);
        s += b;
    }
    for (const auto& q : t.queues) {
        std::snprintf(b, sizeof(b), "TX queue %u: %" PRIu64 " completed, tx_invalid_descs %llu, tx_ring_empty_descs %llu\n",
                      q.queue, q.sent, (unsigned long long)q.xsk.tx_invalid_descs,
                      (unsigned long long)q.xsk.tx_ring_empty_descs);
        s += b;
    }
    return s;
}

}  // namespace xcap
