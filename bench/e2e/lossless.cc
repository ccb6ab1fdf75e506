#include "lossless.h"

#include <sys/stat.h>

#include <cinttypes>
#include <map>

#include "cpu_budget.h"

namespace xcap::e2e {

namespace {

std::string ladder_cell(const ladder& l) {
    if (!l.note.empty() && !l.best) {
        return "could not run: " + l.note;
    }
    if (!l.best) {
        double lowest = 1e9;
        for (const auto& r : l.runs) {
            lowest = std::min(lowest, r.spec.asked_mpps);
        }
        return fmt("none: lost packets even at %.3f Mpps", lowest);
    }
    if (l.generator_limited) {
        return fmt("**≥ %.2f Mpps** (the generator's limit)", *l.best);
    }
    if (!l.bounded) {
        return fmt("**≥ %.2f Mpps** (the top of the ladder)", *l.best);
    }
    return fmt("**%.2f Mpps**", *l.best);
}

std::string ladder_steps(const ladder& l) {
    std::string s;
    for (const auto& r : l.runs) {
        if (!s.empty()) {
            s += ", ";
        }
        if (!r.error.empty()) {
            s += fmt("%.2f: failed", r.spec.asked_mpps);
        } else if (r.lossless()) {
            s += fmt("%.2f ok", r.offered_mpps);
        } else {
            s += fmt("%.2f lost %s", r.offered_mpps, pct_text(r.loss_pct()).c_str());
        }
    }
    return s;
}

}  // namespace

void lossless::run(harness& h) {
    if (h.want("ladder")) {
        ladders(h);
    }
    if (h.want("budget") && !g_interrupted) {
        budget_ladders(h);
    }
    if (h.want("zero") && !h.over_time()) {
        zero_loss(h);
    }
}

uint64_t lossless::step_count(const harness& h, double mpps, bool budget) const {
    if (h.quick()) {
        return 200'000;
    }
    if (budget) {
        // Two seconds of traffic: twenty 100 ms quota periods.
        return std::clamp<uint64_t>(uint64_t(mpps * 2e6), 200'000, 1'000'000);
    }
    return 1'000'000;
}

// Steps the paced rate up until a run loses packets (a loss is run again
// once: a lossless repeat makes it a transient, noted, and the climb goes
// on; a second loss ends it), then tries the midpoint between the last
// lossless step and the lossy one. Where the generator cannot reach the
// rate asked, the climb ends there and the best is marked as the
// generator's limit, not the tool's.
ladder lossless::climb(harness& h, const std::string& tool, uint32_t size, const std::vector<double>& rates, bool budget) {
    ladder l = climb_steps(h, tool, size, rates, budget);
    // The best is only a lower bound unless a run at a higher offered
    // rate lost packets: then the tool's limit lies between the two.
    // Unbounded, it is the generator's limit when a run fell short of the
    // rate asked (the climb ends when a shortfall gets no further), else
    // the top of the ladder.
    l.bounded = false;
    for (const auto& r : l.runs) {
        if (r.error.empty() && !r.lossless() && l.best && r.offered_mpps > *l.best) {
            l.bounded = true;
        }
    }
    l.generator_limited = false;
    if (!l.bounded && l.best) {
        for (const auto& r : l.runs) {
            if (r.lossless() && !r.reached()) {
                l.generator_limited = true;  // asked for more, the generator got no further
            }
        }
    }
    return l;
}

ladder lossless::climb_steps(harness& h, const std::string& tool, uint32_t size, const std::vector<double>& rates, bool budget) {
    ladder l;
    l.tool = tool;
    l.size = size;
    l.budget = budget;
    const std::string phase = budget ? "budget" : "ladder";
    std::optional<double> good_asked, bad_asked;
    auto take = [&](const run_result& r) {
        l.runs.push_back(r);
        if (r.lossless() && (!l.best || r.offered_mpps > *l.best)) {
            l.best = r.offered_mpps;
            l.best_own_ns = r.own_ns();
            l.best_core_pct = r.core_pct();
            l.best_throttled = r.throttled;
        }
    };
    for (size_t i = 0; i < rates.size() && !h.over_time(); ++i) {
        const double best_before = l.best.value_or(0);
        auto r = h.measure({phase, tool, size, rates[i], step_count(h, rates[i], budget), budget});
        take(r);
        if (!r.error.empty()) {
            l.note = r.error;
            return l;
        }
        if (r.lossless()) {
            good_asked = rates[i];
            // The generator's reach varies from run to run: a shortfall
            // ends the climb only once it no longer gets further.
            if (!r.reached() && r.offered_mpps < best_before * 1.03) {
                l.generator_limited = true;
                return l;
            }
            continue;
        }
        if (!h.quick()) {
            auto again = h.measure({phase, tool, size, rates[i], step_count(h, rates[i], budget), budget});
            take(again);
            if (again.lossless()) {
                good_asked = rates[i];
                if (!again.reached()) {
                    l.generator_limited = true;
                    return l;
                }
                continue;
            }
        }
        bad_asked = rates[i];
        break;
    }
    if (h.over_time() || h.quick()) {
        return l;
    }
    if (!good_asked && bad_asked) {
        // Lossy from the first step: look lower, twice.
        for (double r = *bad_asked / 2; r >= *bad_asked / 4 && !g_interrupted; r /= 2) {
            auto low = h.measure({phase, tool, size, r, step_count(h, r, budget), budget});
            take(low);
            if (low.lossless()) {
                good_asked = r;
                break;
            }
        }
    }
    if (good_asked && bad_asked && *bad_asked / *good_asked > 1.15) {
        double mid = (*good_asked + *bad_asked) / 2;
        take(h.measure({phase, tool, size, mid, step_count(h, mid, budget), budget}));
    }
    return l;
}

void lossless::ladders(harness& h) {
    std::map<uint32_t, std::vector<double>> rates;
    if (h.quick()) {
        rates = {{64, {1.0, 2.0, 3.0}}, {512, {1.0, 2.0}}, {1500, {0.5, 1.0}}};
    } else {
        rates = {{64, {0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0}},
                 {512, {0.5, 1.0, 1.5, 2.0, 2.5, 3.0}},
                 {1500, {0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 2.5}}};
    }
    for (uint32_t size : {64u, 512u, 1500u}) {
        for (const char* tool : k_tools) {
            if (!h.over_time() && h.want_tool(tool)) {
                _ladders.push_back(climb(h, tool, size, rates[size], false));
            }
        }
    }
}

void lossless::budget_ladders(harness& h) {
    {
        cpu_budget probe(30);
        if (!probe.ok()) {
            h.budget_how = "skipped: " + probe.why();
            std::printf("budget: %s\n", h.budget_how.c_str());
            return;
        }
        h.budget_how = probe.how();
    }
    // The tools spend 100-200 ns a packet at 64 B, so 30% of a core is
    // spent only from about 1.5-3 Mpps; below that the budget bites
    // through its 100 ms period: a tool out of quota sleeps up to 70 ms,
    // and what arrives meanwhile must fit in its buffer.
    std::vector<double> rates = h.quick() ? std::vector<double>{0.5, 1.5, 2.5}
                                       : std::vector<double>{0.25, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0};
    for (const char* tool : k_tools) {
        if (!h.over_time() && h.want_tool(tool)) {
            _budget.push_back(climb(h, tool, 64, rates, true));
        }
    }
}

void lossless::zero_loss(harness& h) {
    if (!h.want_tool("xcap")) {
        return;
    }
    // Paced at the rate asked where the generator got furthest against
    // xcap in the ladder (the generator sends faster paced, in bursts of
    // at most 100 us, than unpaced, in bursts of 4096 frames), then
    // unpaced: its own top speed.
    double asked = 2.5, best = 0;
    for (const auto& l : _ladders) {
        for (const auto& r : l.runs) {
            if (l.tool == "xcap" && l.size == 64 && r.error.empty() && r.offered_mpps > best) {
                best = r.offered_mpps;
                asked = r.spec.asked_mpps;
            }
        }
    }
    const uint64_t n = h.quick() ? 1'000'000 : 5'000'000;
    _zero.push_back(h.measure({"zero", "xcap", 64, asked, n}));
    // Unpaced, every tool in turn, a few rounds: the generator shares its
    // core with the veth's receive work, so the rate it reaches against a
    // tool is what that tool's kernel side leaves it; a change in the
    // machine's load falls on all of them alike.
    const int rounds = h.quick() ? 1 : 3;
    for (int round = 0; round < rounds; ++round) {
        for (const char* tool : k_tools) {
            if (g_interrupted || h.over_time()) {
                return;
            }
            if (h.want_tool(tool)) {
                _zero.push_back(h.measure({"zero", tool, 64, 0, n}));
            }
        }
    }
    if (!h.quick() && sh("perf --version").status == 0) {
        profile_cpu0(h, n);
    }
}

// One more unpaced flood per tool with CPU 0 sampled (not among the rounds
// above: perf's own work on CPU 0 slows the generator).
void lossless::profile_cpu0(harness& h, uint64_t n) {
    for (const char* tool : k_tools) {
        if (g_interrupted || h.over_time()) {
            return;
        }
        if (!h.want_tool(tool)) {
            continue;
        }
        run_spec s{"zero-cpu0", tool, 64, 0, n};
        s.profile_cpu0 = true;
        const run_result r = h.measure(s);
        if (!r.error.empty()) {
            continue;
        }
        mkdir(h.out().c_str(), 0755);
        const std::string data = quote(h.perf_data());
        cpu0_profile p{tool, std::string("cpu0-profile-") + tool + ".txt", r.offered_mpps, {}};
        auto flat = sh("perf report -i " + data + " --no-children --sort sym --stdio -g none 2>/dev/null");
        auto callers = sh("perf report -i " + data + " --no-children --sort sym --stdio -G "
                          "--percent-limit 2 2>/dev/null");
        write_file(h.out() + "/" + p.file, flat.output + "\n" + callers.output);
        for (const auto& e : perf_entries(flat.output, 12)) {
            p.top.push_back({e.symbol + (e.kernel ? " [k]" : ""), e.pct});
        }
        _cpu0.push_back(std::move(p));
    }
}

std::string lossless::files() const { return file_list(_cpu0); }

void lossless::cpu0_markdown(std::ostream& md) const {
    if (_cpu0.empty()) {
        return;
    }
    md << "\nWhere CPU 0's time goes during an unpaced flood (`perf record -C 0 -e cpu-clock -g` over the flood "
          "only, one more run per tool; share of CPU 0's samples, idle included; callers of the top symbols in "
          "the files):\n\n| rank |";
    for (const auto& p : _cpu0) {
        md << " " << p.tool << fmt(" (generator %.2f Mpps)", p.offered_mpps) << " |";
    }
    md << "\n|---|";
    for (size_t i = 0; i < _cpu0.size(); ++i) {
        md << "---|";
    }
    md << "\n";
    for (size_t rank = 0; rank < 12; ++rank) {
        md << "| " << rank + 1 << " |";
        for (const auto& p : _cpu0) {
            if (rank < p.top.size()) {
                md << fmt(" %.1f%% `%s` |", p.top[rank].second, p.top[rank].first.c_str());
            } else {
                md << " |";
            }
        }
        md << "\n";
    }
}

void lossless::markdown(std::ostream& md, const harness& h) const {
    // Ladders
    md << "\n## Highest lossless rate, paced stepping\n\n";
    md << "The offered rate steps up (1,000,000 packets a step" << (h.quick() ? "; quick: 200,000" : "")
       << ") until a run loses packets; a loss is run once more, and a lossless repeat counts as a transient "
          "(listed) and the climb goes on; then the midpoint between the last lossless and the lossy step is "
          "tried. The generator shares its core with the veth's receive work, so it reaches less against a "
          "tool whose receive path costs that core more: where it fell short of the rate asked, the figure is "
          "the generator's limit, not the tool's.\n\n";
    md << "| tool | 64 B | 512 B | 1500 B |\n|---|---|---|---|\n";
    for (const char* tool : k_tools) {
        std::string row = std::string("| ") + tool;
        bool any = false;
        for (uint32_t size : {64u, 512u, 1500u}) {
            std::string cell = "-";
            for (const auto& l : _ladders) {
                if (l.tool == tool && l.size == size) {
                    cell = ladder_cell(l);
                    if (l.best) {
                        cell += fmt(", own CPU %.0f ns/pkt there", l.best_own_ns);
                    }
                    any = true;
                }
            }
            row += " | " + cell;
        }
        if (any) {
            md << row << " |\n";
        }
    }
    md << "\nEvery step (Mpps offered as the generator achieved it):\n\n";
    for (const auto& l : _ladders) {
        md << "- " << l.tool << ", " << l.size << " B: " << ladder_steps(l) << "\n";
    }

    // Budget
    md << "\n## Under a CPU budget: each tool limited to 30% of one core, 64 B\n\n";
    md << "How: " << (h.budget_how.empty() ? std::string("not run") : h.budget_how)
       << ". A child cgroup is made for each run, the tool is moved into it once it is ready (so netsniff-ng's "
          "set-up is not slowed), and the cgroup is removed after the tool exits. Steps of "
          "max(200,000, 2 s of traffic) packets, up to 1,000,000.\n\n";
    if (!_budget.empty()) {
        md << "| tool | lossless up to | own CPU there | share of a core it used there | periods out of quota "
              "there | steps (Mpps offered) |\n|---|---|---|---|---|---|\n";
        for (const auto& l : _budget) {
            md << "| " << l.tool << " | " << ladder_cell(l) << " | "
               << (l.best ? fmt("%.0f ns/pkt", l.best_own_ns) : std::string("-")) << " | "
               << (l.best ? fmt("%.0f%%", l.best_core_pct) : std::string("-")) << " | "
               << (l.best ? std::to_string(l.best_throttled) : std::string("-")) << " | " << ladder_steps(l)
               << " |\n";
        }
    }

    // Zero loss
    md << "\n## Zero loss at the generator's top rate (64 B, " << (h.quick() ? "1,000,000" : "5,000,000")
       << " packets)\n\n";
    if (_zero.empty()) {
        md << "Not run.\n";
    }
    for (const auto& z : _zero) {
        if (z.spec.tool != "xcap") {
            continue;  // in the table below
        }
        const std::string how = z.spec.asked_mpps > 0
                                    ? fmt("paced (asked %g Mpps: where the generator got furthest against xcap in the "
                                          "ladder)", z.spec.asked_mpps)
                                    : std::string("unpaced (the generator's own top speed, bursts of 4096 frames)");
        if (!z.error.empty()) {
            md << "- " << how << ": failed: " << z.error << "\n";
            continue;
        }
        md << fmt("- %s: %" PRIu64 " packets offered at %.3f Mpps, %" PRIu64 " written: **%s**; xcap counted %" PRId64
                  " dropped%s; own CPU %.0f ns/pkt.\n",
                  how.c_str(), z.offered, z.offered_mpps, z.written,
                  z.lossless() ? "no loss" : (pct_text(z.loss_pct()) + " lost").c_str(), z.tool_drops,
                  z.drop_detail.empty() ? "" : (" (" + z.drop_detail + ")").c_str(), z.own_ns());
    }
    // The generator's unpaced rate against each tool, round by round.
    std::vector<std::string> tools;
    for (const char* t : k_tools) {
        for (const auto& z : _zero) {
            if (z.spec.tool == t && z.spec.asked_mpps == 0 && z.error.empty()) {
                tools.push_back(t);
                break;
            }
        }
    }
    if (tools.size() < 2) {
        cpu0_markdown(md);
        return;
    }
    md << "\nThe generator's own top speed with each tool capturing, the tools taking turns (the generator "
          "shares CPU 0 with the veth's receive work: a dearer receive path leaves it less):\n\n"
          "| tool | generator Mpps, each run | median | runs without loss |\n|---|---|---|---|\n";
    for (const auto& t : tools) {
        std::vector<double> rates;
        std::string each;
        int lossless = 0;
        for (const auto& z : _zero) {
            if (z.spec.tool != t || z.spec.asked_mpps != 0 || !z.error.empty()) {
                continue;
            }
            rates.push_back(z.offered_mpps);
            each += (each.empty() ? "" : ", ") + fmt("%.2f", z.offered_mpps);
            lossless += z.lossless();
        }
        md << fmt("| %s | %s | **%.2f** | %d of %zu |\n", t.c_str(), each.c_str(), median(rates), lossless,
                  rates.size());
    }
    cpu0_markdown(md);
}

void lossless::json(std::ostream& js, const harness&) const {
    js << ",\n  \"lossless\": [\n";
    std::vector<const ladder*> all_ladders;
    for (const auto& l : _ladders) {
        all_ladders.push_back(&l);
    }
    for (const auto& l : _budget) {
        all_ladders.push_back(&l);
    }
    for (size_t i = 0; i < all_ladders.size(); ++i) {
        const auto& l = *all_ladders[i];
        js << fmt("    {\"tool\": %s, \"frame\": %u, \"budget\": %s, \"best_mpps\": %s, \"generator_limited\": %s, \"bounded\": %s, "
                  "\"own_ns_per_pkt_there\": %.1f, \"core_pct_there\": %.1f, \"throttled_there\": %" PRIu64 "}%s\n",
                  json_str(l.tool).c_str(), l.size, l.budget ? "true" : "false",
                  l.best ? fmt("%.4f", *l.best).c_str() : "null", l.generator_limited ? "true" : "false",
                  l.bounded ? "true" : "false", l.best_own_ns, l.best_core_pct, l.best_throttled, i + 1 < all_ladders.size() ? "," : "");
    }
    js << "  ]";
}

}  // namespace xcap::e2e
