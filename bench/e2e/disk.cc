#include "disk.h"

#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include <cinttypes>
#include <regex>

namespace xcap::e2e {

namespace {

// Where the files go: on the disk, so never /tmp when that is tmpfs.
constexpr const char* k_disk_dir = "/var/tmp/xcap-bench-disk";

struct disk_tool {
    const char* tool;
    const char* label;
    std::vector<std::string> xcap_args;
};

const disk_tool k_disk_tools[] = {
    {"xcap", "xcap", {}},
    {"xcap", "xcap --buffer-len 0", {"--buffer-len", "0"}},
    // A pool large enough for the whole deficit of a disk a little slower
    // than the offered rate (1.2 GB over 8,000,000 frames at 90 % of it).
    {"xcap", "xcap --buffer-len 2g", {"--buffer-len", "2g"}},
    {"tcpdump", "tcpdump", {}},
    {"netsniff-ng", "netsniff-ng", {}},
};

// dd's "N bytes (...) copied, S s, R MB/s" line, as MB/s.
double dd_rate(const std::string& text) {
    std::smatch m;
    if (std::regex_search(text, m, std::regex("([0-9]+) bytes.*copied, ([0-9.]+) s"))) {
        const double s = std::stod(m[2]);
        return s > 0 ? std::stod(m[1]) / s / 1e6 : 0;
    }
    return 0;
}

}  // namespace

void disk_bench::run(harness& h) {
    if (!h.want("disk") && !h.want("rotate")) {
        return;
    }
    _dir = k_disk_dir;
    mkdir(_dir.c_str(), 0755);
    struct statfs fs{};
    if (statfs(_dir.c_str(), &fs) != 0 || fs.f_type == TMPFS_MAGIC || fs.f_type == RAMFS_MAGIC) {
        _why_not = _dir + " is not on a disk (tmpfs)";
        return;
    }
    // The disk's own figure: 4 MiB direct writes, as xcap's writer makes them.
    const int blocks = h.quick() ? 64 : 1024;
    _dd_load = one_line(read_text("/proc/loadavg"));
    sh("sync; echo 3 > /proc/sys/vm/drop_caches");
    auto dd = sh("dd if=/dev/zero of=" + quote(_dir + "/dd.bin") + " bs=4M count=" + std::to_string(blocks) +
                 " oflag=direct conv=fsync 2>&1");
    sh("rm -f " + quote(_dir + "/dd.bin"));
    _dd_mb_s = dd_rate(dd.output);
    std::printf("disk    dd oflag=direct bs=4M: %.0f MB/s [load %s]\n", _dd_mb_s, _dd_load.c_str());
    if (h.want("disk")) {
        measure_disk(h);
    }
    if (h.want("rotate")) {
        rotate(h);
    }
    rmdir(_dir.c_str());
}

void disk_bench::rotate(harness& h) {
    struct rotation_tool {
        const char* tool;
        const char* label;
        std::vector<std::string> xcap_args;
        uint32_t rotate_mb;
    };
    const rotation_tool tools[] = {
        {"xcap", "xcap (one file)", {}, 0},
        {"xcap", "xcap -C 100", {}, 100},
        {"xcap", "xcap --buffer-len 1g -C 100", {"--buffer-len", "1g"}, 100},
        {"xcap", "xcap --buffer-len 0 -C 100", {"--buffer-len", "0"}, 100},
        {"tcpdump", "tcpdump -C 100", {}, 100},
    };
    const uint64_t count = h.quick() ? 100'000 : 3'000'000;
    for (int round = 0; round < (h.quick() ? 1 : 2); ++round) {
        for (const auto& t : tools) {
            if (g_interrupted || h.over_time()) {
                return;
            }
            if (!h.want_tool(t.tool)) {
                continue;
            }
            run_spec s{"rotate", t.tool, 1514, 0.3, count};
            s.dir = _dir;
            s.xcap_args = t.xcap_args;
            s.rotate_mb = t.rotate_mb;
            s.label = t.label;
            _rotations.push_back(h.measure(s));
        }
    }
}

void disk_bench::measure_disk(harness& h) {
    struct point {
        uint32_t size;
        double mpps;
        uint64_t count;
    };
    const std::vector<point> points = h.quick() ? std::vector<point>{{1514, 0.6, 100'000}, {64, 1.2, 200'000}}
                                                : std::vector<point>{{1514, 0.6, 8'000'000}, {64, 1.2, 6'000'000}};
    for (const auto& pt : points) {
        for (const auto& t : k_disk_tools) {
            if (g_interrupted || h.over_time()) {
                return;
            }
            if (!h.want_tool(t.tool)) {
                continue;
            }
            run_spec s{"disk", t.tool, pt.size, pt.mpps, pt.count};
            s.dir = _dir;
            s.xcap_args = t.xcap_args;
            s.label = t.label;
            _runs.push_back(h.measure(s));
        }
    }
    // 64 B at the generator's top rate: bursts of it, not a paced stream.
    for (int round = 0; round < (h.quick() ? 1 : 3) && h.want_tool("xcap"); ++round) {
        if (g_interrupted || h.over_time()) {
            return;
        }
        run_spec s{"disk", "xcap", 64, 0, h.quick() ? 200'000u : 5'000'000u};
        s.dir = _dir;
        s.label = "xcap, unpaced";
        _runs.push_back(h.measure(s));
    }
    if (!h.quick() && h.want_tool("xcap") && sh("perf --version").status == 0) {
        struct profile_point {
            const disk_tool& tool;
            uint32_t size;
            double mpps;
            const char* file;
        };
        const profile_point runs[] = {
            {k_disk_tools[0], 1514, 0.6, "disk-profile-direct.txt"},
            {k_disk_tools[1], 1514, 0.6, "disk-profile-buffered.txt"},
            {k_disk_tools[0], 64, 1.2, "disk-profile-64B-direct.txt"},
        };
        for (const auto& p : runs) {
            if (g_interrupted || h.over_time()) {
                break;
            }
            run_spec s{"disk-profile", "xcap", p.size, p.mpps, 3'000'000, false, true};
            s.cpu_clock = true;
            s.dir = _dir;
            s.xcap_args = p.tool.xcap_args;
            s.label = p.tool.label;
            auto r = h.measure(s);
            if (r.error.empty()) {
                keep_profile(h, s, p.file);
            }
        }
    }
}

void disk_bench::keep_profile(const harness& h, const run_spec& s, const std::string& file) {
    mkdir(h.out().c_str(), 0755);
    const std::string data = quote(h.perf_data());
    auto full = sh("perf report -i " + data + " --no-children --sort comm,sym --stdio -g none 2>/dev/null");
    write_file(h.out() + "/" + file, full.output);
    profile p{s.label, file, s.size, s.asked_mpps, s.count, {}};
    for (const auto& e : perf_entries(full.output, 14)) {
        p.top.push_back({e.comm + ": " + e.symbol + (e.kernel ? " [k]" : ""), e.pct});
    }
    _profiles.push_back(std::move(p));
}

std::string disk_bench::files() const { return file_list(_profiles); }

void disk_bench::markdown(std::ostream& md, const harness& h) const {
    md << "\n## Disk: capture into a folder on this machine's disk\n\n";
    if (!h.want("disk") && !h.want("rotate")) {
        md << "Not run (`--phases disk,rotate`).\n";
        return;
    }
    if (!_why_not.empty()) {
        md << "Not run: " << _why_not << ".\n";
        return;
    }
    if (!h.want("disk")) {
        md << "The disk's direct-write rate in this run (`dd if=/dev/zero bs=4M oflag=direct conv=fsync`): **"
           << fmt("%.0f MB/s", _dd_mb_s) << "** (load `" << _dd_load << "`).\n";
        rotate_markdown(md);
        return;
    }
    md << "Each tool wrote pcap into " << _dir << " (ext4 on the machine's disk), the page cache dropped "
          "before every run and the file deleted after it. The disk's own direct-write rate in this run "
          "(`dd if=/dev/zero bs=4M oflag=direct conv=fsync`): **"
       << fmt("%.0f MB/s", _dd_mb_s) << "** (load `" << _dd_load << "`). xcap writes with direct I/O from a "
       << "thread of its own by default; `xcap --buffer-len 0` is its earlier path (write() from the capture "
          "thread through the page cache), measured in the same run.\n\n";
    md << "| frame | rate offered | tool | written / offered | loss | own CPU ns/pkt | MB/s to the file | what "
          "the tool counted | load (1, 5, 15 min) |\n|---|---|---|---|---|---|---|---|---|\n";
    for (const auto& r : _runs) {
        if (!r.error.empty()) {
            md << fmt("| %u B | %.2f Mpps | %s | %s ||||| %s |\n", r.spec.size, r.spec.asked_mpps,
                      r.spec.label.c_str(), r.error.c_str(), r.load.c_str());
            continue;
        }
        const double seconds = r.offered_mpps > 0 ? double(r.offered) / (r.offered_mpps * 1e6) : 0;
        const double mb_s = seconds > 0 ? double(r.written) * (r.spec.size + 16) / seconds / 1e6 : 0;
        md << fmt("| %u B | %.3f Mpps | %s | %" PRIu64 " / %" PRIu64 " | %s | %.0f | %.0f | %s | %s |\n", r.spec.size,
                  r.offered_mpps, r.spec.label.c_str(), r.written, r.offered, pct_text(r.loss_pct()).c_str(),
                  r.own_ns(), mb_s, r.drop_detail.empty() ? "-" : r.drop_detail.c_str(), r.load.c_str());
    }
    profile_markdown(md);
    rotate_markdown(md);
}

void disk_bench::rotate_markdown(std::ostream& md) const {
    if (_rotations.empty()) {
        return;
    }
    md << "\n### Rotation (`rotate`)\n\n1514 B at 0.3 Mpps (about 460 MB/s), pcap into the same folder, with -C 100 "
          "(a new file about every 0.2 s) and without; the packets are counted over every file. In turns, "
          "two rounds.\n\n| tool | files | written / offered | loss | own CPU ns/pkt | what the tool counted | load |\n"
          "|---|---|---|---|---|---|---|\n";
    for (const auto& r : _rotations) {
        if (!r.error.empty()) {
            md << fmt("| %s | | %s |||| %s |\n", r.spec.label.c_str(), r.error.c_str(), r.load.c_str());
            continue;
        }
        md << fmt("| %s | %u | %" PRIu64 " / %" PRIu64 " | %s | %.0f | %s | %s |\n", r.spec.label.c_str(), r.files,
                  r.written, r.offered, pct_text(r.loss_pct()).c_str(), r.own_ns(),
                  r.drop_detail.empty() ? "-" : r.drop_detail.c_str(), r.load.c_str());
    }
}

void disk_bench::profile_markdown(std::ostream& md) const {
    if (_profiles.empty()) {
        return;
    }
    md << "\nWhere xcap's time goes on the disk (`perf record -e cpu-clock -g` of the process, each a run of its "
          "own; share of all samples by thread and symbol, `perf report --sort comm,sym`):\n";
    for (const auto& p : _profiles) {
        md << "\n" << p.label << fmt(", %u B at %.1f Mpps, %" PRIu64 " frames", p.size, p.mpps, p.count) << " ("
           << p.file << "):\n\n| share | thread: symbol |\n|---|---|\n";
        for (const auto& [sym, pct] : p.top) {
            md << fmt("| %.1f%% | `%s` |\n", pct, sym.c_str());
        }
    }
}

void disk_bench::json(std::ostream& js, const harness&) const {
    js << ",\n  \"disk\": {\"dir\": " << json_str(_dir) << ", \"dd_direct_mb_s\": " << fmt("%.1f", _dd_mb_s)
       << ", \"dd_load\": " << json_str(_dd_load) << ", \"not_run\": " << json_str(_why_not) << "}";
}

}  // namespace xcap::e2e
