// loss.png (loss against offered rate, from the lossless climbs) and
// cpu.png (CPU per packet at the equal-rate points), through gnuplot.
#include <fstream>
#include <map>

#include "equal.h"
#include "harness.h"
#include "lossless.h"

namespace xcap::e2e {

bool harness::plots_have_data() const {
    const lossless* ll = find<lossless>();
    const equal_rate* eq = find<equal_rate>();
    return (ll && (!ll->ladders().empty() || !ll->budget().empty())) || (eq && !eq->runs().empty());
}

// Loss (log scale; a lossless run sits on the "0" line at the bottom)
// against the offered rate, a panel per frame size and one for the CPU
// budget; and CPU per packet at the equal-rate points as bars.
void harness::plot() const {
    if (!plots_have_data()) {
        return;
    }
    static const std::vector<ladder> no_ladders;
    static const std::vector<run_result> no_runs;
    const lossless* ll = find<lossless>();
    const equal_rate* eq = find<equal_rate>();
    const std::vector<ladder>& ladders = ll ? ll->ladders() : no_ladders;
    const std::vector<ladder>& budget = ll ? ll->budget() : no_ladders;
    const std::vector<run_result>& equal_runs = eq ? eq->runs() : no_runs;
    auto equal_point = [&](const std::string& tool, uint32_t size, double mpps) {
        return eq ? eq->equal_point(tool, size, mpps) : std::nullopt;
    };
    const double floor_pct = 1e-4;  // 1 packet in 10^6
    std::vector<std::pair<std::string, const std::vector<ladder>*>> panels;
    std::ofstream dat(_tmp + "/loss.dat");
    int blocks = 0;
    auto emit = [&](const ladder& l) {
        std::vector<std::pair<double, double>> pts;
        for (const auto& r : l.runs) {
            if (r.error.empty() && r.offered) {
                pts.push_back({r.offered_mpps, std::max(floor_pct, r.loss_pct())});
            }
        }
        std::sort(pts.begin(), pts.end());
        dat << "# " << l.tool << " " << l.size << (l.budget ? " budget" : "") << "\n";
        for (const auto& [x, y] : pts) {
            dat << x << " " << y << "\n";
        }
        if (pts.empty()) {
            dat << "-1 1\n";  // keeps the block (and the index numbering) without a visible point
        }
        dat << "\n\n";
        return blocks++;
    };
    // index per (panel, tool)
    std::map<std::pair<std::string, std::string>, int> index;
    for (const auto& l : ladders) {
        index[{std::to_string(l.size), l.tool}] = emit(l);
    }
    for (const auto& l : budget) {
        index[{"budget", l.tool}] = emit(l);
    }
    // A ring around a line's last point where the generator could go no
    // faster: the tool's limit lies beyond it.
    std::map<std::string, int> limits;
    auto emit_limits = [&](const std::string& key, const std::vector<ladder>& v) {
        dat << "# generator limits " << key << "\n";
        bool any = false;
        for (const auto& l : v) {
            if (l.generator_limited && l.best && (key == "budget" || std::to_string(l.size) == key)) {
                dat << *l.best << " " << floor_pct << "\n";
                any = true;
            }
        }
        if (!any) {
            dat << "-1 1\n";
        }
        dat << "\n\n";
        limits[key] = blocks++;
    };
    for (const char* key : {"64", "512", "1500"}) {
        emit_limits(key, ladders);
    }
    emit_limits("budget", budget);
    dat.close();
    const char* colours[] = {"#1b9e77", "#d95f02", "#7570b3"};
    const int points[] = {7, 5, 9};
    std::ofstream gp(_tmp + "/plot.gp");
    gp << "set terminal pngcairo size 1200,900 font ',10'\nset output '" << _opt.out << "/loss.png'\n"
       << "set multiplot layout 2,2 title 'Packets lost against offered rate (" << _machine << ", "
       << _started_at << ")' font ',11'\n"
       << "set logscale y\nset yrange [" << floor_pct * 0.5 << ":200]\n"
       << "set ytics ('0' " << floor_pct << ", '0.001%%' 0.001, '0.01%%' 0.01, '0.1%%' 0.1, '1%%' 1, '10%%' 10, '100%%' 100)\n"
       << "set grid\nset key top left\nset xlabel 'offered (Mpps, as the generator achieved it)'\n"
       << "set ylabel 'lost (% of offered)'\nset xrange [0:*]\n";
    auto panel = [&](const std::string& key, const std::string& title) {
        gp << "set title '" << title << "'\nplot ";
        bool first = true;
        for (int t = 0; t < 3; ++t) {
            auto it = index.find({key, k_tools[t]});
            if (it == index.end()) {
                continue;
            }
            gp << (first ? "" : ", ") << "'" << _tmp << "/loss.dat' index " << it->second
               << " using 1:2 with linespoints lw 2 pt " << points[t] << " ps 1.3 lc rgb '" << colours[t]
               << "' title '" << k_tools[t] << "'";
            first = false;
        }
        if (first) {
            gp << "NaN notitle";
        } else {
            gp << ", '" << _tmp << "/loss.dat' index " << limits[key]
               << " using 1:2 with points pt 6 ps 3.2 lw 1.5 lc rgb 'black' title 'the generator could go no faster'";
        }
        gp << "\n";
    };
    panel("64", "64-byte frames");
    panel("512", "512-byte frames");
    panel("1500", "1500-byte frames");
    panel("budget", "64-byte frames, each tool held to 30% of one core");
    gp << "unset multiplot\n";

    // CPU bars: per tool four columns, own and machine ns/pkt and their
    // labels ("*" where the tool lost packets in that run).
    std::ofstream bars(_tmp + "/cpu.dat");
    const auto pts = eq ? eq->equal_points() : std::vector<std::pair<uint32_t, double>>{};
    double top[2] = {0, 0};
    bool any_lossy = false;
    for (const auto& [size, mpps] : pts) {
        bars << "\"" << size << " B\\n" << fmt("%g", mpps) << " Mpps\"";
        for (const char* t : k_tools) {
            auto r = equal_point(t, size, mpps);
            if (!r) {
                bars << " NaN NaN \"\" \"\"";
                continue;
            }
            const char* mark = r->lossless() ? "" : "*";
            any_lossy = any_lossy || !r->lossless();
            top[0] = std::max(top[0], r->own);
            top[1] = std::max(top[1], r->machine);
            bars << fmt(" %.0f %.0f \"%.0f%s\" \"%.0f%s\"", r->own, r->machine, r->own, mark, r->machine, mark);
        }
        bars << "\n";
    }
    bars.close();
    gp << "set terminal pngcairo size 1200,520 font ',10'\nset output '" << _opt.out << "/cpu.png'\n"
       << "unset logscale\nset ytics auto\nunset xlabel\n"
       << "set style data histogram\nset style histogram cluster gap 1\nset style fill solid 0.85 border -1\n"
       << "set boxwidth 0.9\nset grid ytics\nset key top left\nset termoption noenhanced\nset bmargin 5\n"
       << "set xrange [-0.6:" << fmt("%.1f", double(pts.size()) - 0.4) << "]\n"
       << "set multiplot layout 1,2 title \"CPU per packet at the same offered rate, lower is better (" << _machine
       << ")" << (any_lossy ? "\\n* the tool lost packets in a run there" : "") << "\" font ',11'\n";
    // Only the tools with a figure: a column of nothing but NaN stops gnuplot.
    std::vector<int> shown;
    for (int t = 0; t < 3; ++t) {
        for (const auto& p : equal_runs) {
            if (p.spec.tool == k_tools[t] && p.error.empty() && p.written) {
                shown.push_back(t);
                break;
            }
        }
    }
    for (int kind = 0; kind < 2 && !shown.empty(); ++kind) {
        gp << "set title '" << (kind == 0 ? "own CPU of the tool (user + sys)" : "machine CPU (own + kernel receive path)")
           << "'\nset ylabel 'ns per packet'\nset yrange [0:" << fmt("%.0f", top[kind] * 1.15 + 1) << "]\nplot ";
        const double n = double(shown.size());
        for (size_t j = 0; j < shown.size(); ++j) {
            int t = shown[j];
            gp << (j ? ", " : "") << "'" << _tmp << "/cpu.dat' using " << 2 + t * 4 + kind << ":xtic(1) title '"
               << k_tools[t] << "' lc rgb '" << colours[t] << "'";
        }
        // A cluster of n bars is centred on the row number, each bar 1/(n+1) wide.
        for (size_t j = 0; j < shown.size(); ++j) {
            int t = shown[j];
            gp << ", '' using ($0 + " << fmt("%.3f", (double(j) - (n - 1) / 2) / (n + 1)) << "):" << 2 + t * 4 + kind
               << ":" << 4 + t * 4 + kind << " with labels offset 0,0.7 font ',8' notitle";
        }
        gp << "\n";
    }
    gp << "unset multiplot\n";
    gp.close();
    auto r = sh("gnuplot " + quote(_tmp + "/plot.gp"));
    if (r.status != 0) {
        std::fprintf(stderr, "xcap-bench: gnuplot failed; no plots: %s\n", r.output.c_str());
    }
}

}  // namespace xcap::e2e
