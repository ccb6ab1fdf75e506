// latest.md and latest.json: the harness's own parts (the set-up, every
// run) and each scenario's section, in section() order.
#include <sys/stat.h>

#include <algorithm>
#include <cinttypes>
#include <sstream>

#include "harness.h"

namespace xcap::e2e {

namespace {

std::string json_run(const run_result& p) {
    return fmt("{\"phase\": %s, \"tool\": %s, \"frame\": %u, \"asked_mpps\": %.3f, \"budget\": %s, \"offered\": %" PRIu64
               ", \"offered_mpps\": %.4f, \"delivered\": %" PRIu64 ", \"written\": %" PRIu64
               ", \"loss_pct\": %.5f, \"own_user_s\": %.3f, \"own_sys_s\": %.3f, \"own_ns_per_pkt\": %.1f, "
               "\"machine_s\": %.3f, \"machine_ns_per_pkt\": %.1f, \"machine_busy_s\": %.3f, \"machine_busy_ns_per_pkt\": %.1f, "
               "\"rx_softirq_s\": %.4f, \"rx_softirq_ns_per_pkt\": %.1f, \"generator_s\": %.3f, \"window_s\": %.3f, "
               "\"setup_s\": %.2f, \"setup_cpu_s\": %.2f, \"tool_drops\": %" PRId64 ", \"drop_detail\": %s, "
               "\"throttled_periods\": %" PRIu64 ", \"label\": %s, \"files\": %u, \"rotate_mb\": %u, \"load\": %s, "
               "\"error\": %s}",
               json_str(p.spec.phase).c_str(), json_str(p.spec.tool).c_str(), p.spec.size, p.spec.asked_mpps,
               p.spec.budget ? "true" : "false", p.offered, p.offered_mpps, p.delivered, p.written, p.loss_pct(),
               p.own_user_s, p.own_sys_s, p.own_ns(), p.machine_s, p.machine_ns(), p.machine_busy_s, p.machine_busy_ns(),
               p.rx_softirq_s, p.rx_ns(), p.generator_s, p.window_s, p.setup_s, p.setup_cpu_s, p.tool_drops,
               json_str(p.drop_detail).c_str(), p.throttled, json_str(p.spec.label).c_str(), p.files, p.spec.rotate_mb,
               json_str(p.load).c_str(), json_str(p.error).c_str());
}

}  // namespace

std::vector<const scenario*> harness::report_order() const {
    std::vector<const scenario*> v;
    for (const auto& s : _scenarios) {
        v.push_back(s.get());
    }
    std::stable_sort(v.begin(), v.end(), [](const scenario* a, const scenario* b) { return a->section() < b->section(); });
    return v;
}

void harness::write_markdown(std::ostream& md, double minutes) const {
    md << "# xcap-bench results\n\n";
    md << "Measured by `scripts/bench.sh`" << (_opt.quick ? " (`--quick`: short runs, figures are rough)" : "")
       << " on " << _machine << ", " << _started_at << ", in " << fmt("%.1f", minutes) << " minutes.\n";
    if (_out_of_time) {
        md << fmt("**Cut short**: the run passed its limit of %.0f minutes and skipped the steps after that.\n",
                  _opt.max_minutes);
    }
    md << "Machine load: `" << _load_start << "` at the start (the cores were " << fmt("%.0f", _background_pct)
       << "% busy with other work in the 2 s before the first run), `" << _load_end << "` at the end.\n\n";
    md << "Set-up: a throwaway pair of network namespaces joined by a 2-queue veth pair (198.18.0.0/15). The "
          "generator (`xcap-flood`, "
       << (_generator_on_sockets ? "UDP frames through an AF_XDP socket in copy mode, an skb per frame, as this "
                                   "kernel refuses BPF_PROG_RUN on live frames"
                                 : "BPF_PROG_RUN live frames of UDP")
       << ") runs on CPU 0, and the veth's receive work "
          "(each tool's kernel side: XDP redirect and copy into xcap's UMEM, or the skb and packet-socket copy "
          "for tcpdump and netsniff-ng) runs there too, in softirq; each capture tool runs on CPU 1 (`taskset`) "
          "and writes pcap to tmpfs. xcap runs with its defaults; tcpdump as `tcpdump -B 65536 -w`; netsniff-ng "
          "as `netsniff-ng --in IF --out FILE --silent --ring-size 64MiB`: each has 64 MiB of packet buffer "
          "(xcap's default UMEM per queue; netsniff-ng would otherwise size its ring from the machine's memory, "
          "2.4 GiB here). Each tool is started, and the flood begins only once it "
          "is ready (its own sign, then its CPU time has not risen for 300 ms); after the flood the harness "
          "waits for the tool to drain (1.2 s for the TPACKET_V3 tools, whose kernel hands over a block only "
          "when it is full or after a timeout, then until the tool's CPU stops rising), and stops it with "
          "SIGINT.\n\n";
    md << "- **Own CPU**: the tool's utime+stime (/proc/PID/stat, all threads) over the flood and its drain "
          "only, per packet written. (The kernel keeps the sum exact; its user/system split is sampled at the "
          "tick and is in latest.json only.)\n";
    md << "- **Receive path**: the kernel's NET_RX softirq time on both cores over the same window, timed "
          "exactly by a raw-tracepoint program on softirq_entry/exit (`bench/softirq_time.bpf.c`), per packet "
          "written: the veth's receive work and each tool's kernel side (XDP redirect and the copy into xcap's "
          "UMEM; or the skb, the stack and the copy into the packet socket's ring for tcpdump and netsniff-ng). "
          "It runs mostly inside the generator's system calls, so it is in no tool's own CPU.\n";
    md << "- **Machine CPU** = own CPU + receive path: what capturing a packet costs the machine. The "
          "generator is left out: it sends the same frames at the same rate for every tool, and its pacing "
          "loop spins, so its CPU (and the plain /proc/stat busy time of the cores, which has it and any other "
          "job on the machine in it) says nothing about the tool; both are in latest.json (`generator_s`, "
          "`machine_busy_ns_per_pkt`). "
       << (_rx_timer.ok() ? std::string() : "Not measured in this run: " + _rx_timer.why() + ". ") << "\n";
    md << "- **Lossless** means every packet the generator sent is in the tool's file.\n\n";
    for (const scenario* s : report_order()) {
        s->markdown(md, *this);
    }
    if (plots_have_data()) {
        md << "\n## Plots\n\n![loss against offered rate](loss.png)\n\n![CPU per packet](cpu.png)\n";
    }
}

void harness::write_json(std::ostream& js, double minutes) const {
    js << "{\n  \"machine\": " << json_str(_machine) << ",\n  \"started\": " << json_str(_started_at)
       << ",\n  \"minutes\": " << fmt("%.1f", minutes) << ",\n  \"quick\": " << (_opt.quick ? "true" : "false")
       << ",\n  \"load_start\": " << json_str(_load_start) << ",\n  \"load_end\": " << json_str(_load_end)
       << ",\n  \"background_busy_pct\": " << fmt("%.1f", _background_pct) << ",\n  \"budget\": "
       << json_str(budget_how) << ",\n  \"runs\": [\n";
    for (size_t i = 0; i < _all.size(); ++i) {
        js << "    " << json_run(_all[i]) << (i + 1 < _all.size() ? ",\n" : "\n");
    }
    js << "  ]";
    for (const scenario* s : report_order()) {
        s->json(js, *this);
    }
    js << "\n}\n";
}

int harness::finish() {
    _load_end = one_line(sh("uptime").output);
    const double minutes = double(mono_ns() - _t_start) / 60e9;
    mkdir(_opt.out.c_str(), 0755);
    std::ostringstream md, js;
    write_markdown(md, minutes);
    write_json(js, minutes);
    write_file(_opt.out + "/latest.md", md.str());
    write_file(_opt.out + "/latest.json", js.str());
    plot();
    std::string files;
    for (const scenario* s : report_order()) {
        files += s->files();
    }
    std::printf("\n%s\nwritten to %s: latest.md, latest.json%s%s (%.1f min)\n", md.str().c_str(), _opt.out.c_str(),
                plots_have_data() ? ", loss.png, cpu.png" : "", files.c_str(), minutes);
    return g_interrupted ? 130 : 0;
}

}  // namespace xcap::e2e
