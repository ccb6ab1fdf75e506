#include "filter.h"

#include <cinttypes>
#include <regex>
#include <sstream>

namespace xcap::e2e {

namespace {

constexpr unsigned k_ports = 100;  // one frame in 100 to the filtered port
constexpr double k_mpps = 0.5;

}  // namespace

double filter_bench::filter_run::own_ns() const {
    const double s = r.own_exact_s >= 0 ? r.own_exact_s : r.own_user_s + r.own_sys_s;
    return r.offered ? s * 1e9 / double(r.offered) : 0;
}

double filter_bench::filter_run::rx_ns() const {
    return r.offered && r.rx_softirq_s >= 0 ? r.rx_softirq_s * 1e9 / double(r.offered) : 0;
}

uint64_t filter_bench::filter_run::to_stack(uint64_t matches) const {
    return r.spec.tool == "xcap" ? r.offered - std::min(r.offered, matches) : r.offered;
}

// The receiving namespace's /proc/net/snmp, "Ip:InReceives" and so on.
std::map<std::string, int64_t> filter_bench::snmp(const harness& h) const {
    std::map<std::string, int64_t> m;
    auto r = sh("ip netns exec " + h.net().receiver_ns() + " cat /proc/net/snmp");
    std::istringstream in(r.output);
    for (std::string names, values; std::getline(in, names) && std::getline(in, values);) {
        std::istringstream n(names), v(values);
        std::string proto, name, val;
        n >> proto;
        v >> val;
        while (n >> name && v >> val) {
            m[proto + name] = std::stoll(val);
        }
    }
    return m;
}

void filter_bench::run(harness& h) {
    if (!h.want("filter") || g_interrupted) {
        return;
    }
    // Addressed to the receiver, so that a frame the filter passes over goes
    // up the stack as far as UDP (no socket: counted in NoPorts) as it would
    // on a host, not dropped at IP as another host's.
    const std::string mac =
        one_line(sh("ip netns exec " + h.net().receiver_ns() + " cat /sys/class/net/" + h.net().receiver_if() + "/address")
                     .output);
    if (!std::regex_match(mac, std::regex("[0-9a-f]{2}(:[0-9a-f]{2}){5}"))) {
        _why_not = "cannot read the receiver's MAC address: " + mac;
        return;
    }
    _expr = "udp dst port 9";
    const uint64_t count = h.quick() ? 300'000 : 3'000'000;
    _matches = (count + k_ports - 1) / k_ports;
    const int rounds = h.quick() ? 1 : 3;
    for (int round = 0; round < rounds; ++round) {
        for (const char* tool : k_tools) {
            if (g_interrupted || h.over_time()) {
                return;
            }
            if (!h.want_tool(tool)) {
                continue;
            }
            run_spec s{"filter", tool, 64, k_mpps, count};
            s.filter = _expr;
            s.gen_args = {"--ports", std::to_string(k_ports), "--dst-mac", mac};
            s.expected = _matches;
            auto before = snmp(h);
            filter_run x;
            x.round = round;
            x.r = h.measure(s);
            auto after = snmp(h);
            auto delta = [&](const char* k) {
                return before.count(k) && after.count(k) ? after[k] - before[k] : int64_t(-1);
            };
            x.ip_in = delta("Ip:InReceives");
            x.udp_noports = delta("Udp:NoPorts");
            x.udp_in = delta("Udp:InDatagrams");
            std::smatch m;
            if (std::regex_search(x.r.tool_output, m,
                                  std::regex("XDP program: ([0-9]+) seen, ([0-9]+) matched[^,]*, ([0-9]+) did not match"))) {
                x.xcap_seen = std::stoll(m[1]);
                x.xcap_matched = std::stoll(m[2]);
                x.xcap_unmatched = std::stoll(m[3]);
            }
            std::printf("filter  %-11s own %.1f ns and machine %.1f ns per offered packet; %" PRIu64 " of %" PRIu64
                        " matches written; reached the stack: IP %" PRId64 ", UDP no port %" PRId64 " (expected %" PRIu64
                        ")\n",
                        tool, x.own_ns(), x.machine_ns(), x.r.written, _matches, x.ip_in, x.udp_noports,
                        x.to_stack(_matches));
            std::fflush(stdout);
            _runs.push_back(x);
        }
    }
}

std::string filter_bench::ratio_line(const std::string& peer) const {
    // The ratio within each round (the tools ran back to back), then the
    // median and range of those.
    std::vector<double> own, mach;
    for (const auto& x : _runs) {
        if (x.r.spec.tool != "xcap" || !x.r.error.empty()) {
            continue;
        }
        for (const auto& y : _runs) {
            if (y.round == x.round && y.r.spec.tool == peer && y.r.error.empty() && y.own_ns() > 0 && y.machine_ns() > 0) {
                own.push_back(x.own_ns() / y.own_ns());
                mach.push_back(x.machine_ns() / y.machine_ns());
            }
        }
    }
    if (own.empty()) {
        return "";
    }
    return fmt("| xcap / %s | %zu | **%.2f** (%.2f-%.2f) | **%.2f** (%.2f-%.2f) |\n", peer.c_str(), own.size(), median(own),
               *std::min_element(own.begin(), own.end()), *std::max_element(own.begin(), own.end()), median(mach),
               *std::min_element(mach.begin(), mach.end()), *std::max_element(mach.begin(), mach.end()));
}

void filter_bench::markdown(std::ostream& md, const harness& h) const {
    md << "\n## Filter matching 1% of the traffic (64 B, paced)\n\n";
    if (_runs.empty()) {
        md << (_why_not.empty() ? std::string("Not run.") : _why_not) << "\n";
        return;
    }
    md << fmt("`xcap-flood --ports %u --dst-mac <receiver>`: 64-byte UDP frames addressed to the receiving host, "
              "the destination port running through 9..%u in turn, at %g Mpps; each tool captures with the "
              "expression `%s`, which matches one frame in %u (%" PRIu64 " of each run's %" PRIu64 "). xcap runs it "
              "in its XDP program (a non-match is passed to the stack, never copied); tcpdump (`-B 65536`) and "
              "netsniff-ng take the same expression, compiled by libpcap into the kernel's classic socket filter, "
              "which runs after the skb is built. CPU is per **offered** packet; own CPU from schedstat (to the "
              "nanosecond; every live thread), receive path and machine CPU as above. The receiving interface's "
              "rx_packets (every frame arrived, plus the odd ARP reply) and the receiving namespace's IP InReceives "
              "and UDP NoPorts show where the frames that were not captured went: up the stack (no socket listens, "
              "so UDP counts them as NoPorts). %s; every run is in latest.json.\n\n",
              k_ports, 9 + k_ports - 1, k_mpps, _expr.c_str(), k_ports, _matches,
              _runs.empty() ? uint64_t(0) : _runs.front().r.offered,
              h.quick() ? "One round" : "Three rounds, the tools taking turns");
    md << "| round | tool | offered at | own CPU ns/offered pkt | receive path | machine CPU | matches written | "
          "interface rx_packets | reached IP | UDP NoPorts | expected to reach the stack | the tool's count |\n"
          "|---|---|---|---|---|---|---|---|---|---|---|---|\n";
    for (const auto& x : _runs) {
        if (!x.r.error.empty()) {
            md << fmt("| %d | %s | %s |||||||||\n", x.round + 1, x.r.spec.tool.c_str(), x.r.error.c_str());
            continue;
        }
        std::string own_count;
        if (x.xcap_seen >= 0) {
            own_count = fmt("XDP: %" PRId64 " seen, %" PRId64 " matched, %" PRId64 " passed", x.xcap_seen, x.xcap_matched,
                            x.xcap_unmatched);
        } else if (x.r.tool_drops >= 0) {
            own_count = fmt("%" PRId64 " dropped", x.r.tool_drops);
        }
        md << fmt("| %d | %s | %.3f Mpps | **%.1f** | %.1f | **%.1f** | %" PRIu64 " of %" PRIu64 "%s | %" PRIu64
                  " | %" PRId64 " | %" PRId64 " | %" PRIu64 " | %s |\n",
                  x.round + 1, x.r.spec.tool.c_str(), x.r.offered_mpps, x.own_ns(), x.rx_ns(), x.machine_ns(), x.r.written,
                  _matches, x.r.lossless() ? "" : (" (" + pct_text(x.r.loss_pct()) + " lost)").c_str(), x.r.delivered, x.ip_in,
                  x.udp_noports, x.to_stack(_matches), own_count.c_str());
    }
    std::string ratios = ratio_line("tcpdump") + ratio_line("netsniff-ng");
    if (!ratios.empty()) {
        md << "\nRatios within each round (< 1: xcap is cheaper), median and range over the rounds:\n\n"
              "| | rounds | own CPU per offered packet | machine CPU per offered packet |\n|---|---|---|---|\n"
           << ratios;
    }
}

void filter_bench::json(std::ostream& js, const harness&) const {
    js << ",\n  \"filter\": {\"expression\": " << json_str(_expr) << fmt(", \"ports\": %u, \"matches\": %" PRIu64, k_ports, _matches)
       << ", \"runs\": [\n";
    for (size_t i = 0; i < _runs.size(); ++i) {
        const auto& x = _runs[i];
        js << fmt("    {\"round\": %d, \"tool\": %s, \"offered\": %" PRIu64 ", \"offered_mpps\": %.4f, \"written\": %" PRIu64
                  ", \"own_exact_s\": %.6f, \"own_ns_per_offered\": %.2f, \"rx_ns_per_offered\": %.2f, "
                  "\"machine_ns_per_offered\": %.2f, \"rx_packets\": %" PRIu64 ", \"ip_in_receives\": %" PRId64 ", \"udp_noports\": %" PRId64
                  ", \"udp_in_datagrams\": %" PRId64 ", \"xcap_seen\": %" PRId64 ", \"xcap_matched\": %" PRId64
                  ", \"xcap_unmatched\": %" PRId64 ", \"error\": %s}%s\n",
                  x.round + 1, json_str(x.r.spec.tool).c_str(), x.r.offered, x.r.offered_mpps, x.r.written, x.r.own_exact_s,
                  x.own_ns(), x.rx_ns(), x.machine_ns(), x.r.delivered, x.ip_in, x.udp_noports, x.udp_in, x.xcap_seen, x.xcap_matched,
                  x.xcap_unmatched, json_str(x.r.error).c_str(), i + 1 < _runs.size() ? "," : "");
    }
    js << "  ]}";
}

}  // namespace xcap::e2e
