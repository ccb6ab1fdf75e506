#include "capture/pipeline.h"

#include <poll.h>
#include <sys/utsname.h>

#include <algorithm>
#include <fstream>

#include "capture/frame_limit.h"
#include "engine/clock.h"

namespace xcap {

section_description describe_section() {
    section_description s;
    std::ifstream cpuinfo("/proc/cpuinfo");
    for (std::string line; std::getline(cpuinfo, line);) {
        if (line.rfind("model name", 0) == 0 && line.find(':') != std::string::npos) {
            s.hardware = line.substr(line.find(':') + 2);
            break;
        }
    }
    utsname u{};
    if (uname(&u) == 0) {
        s.os = std::string(u.sysname) + " " + u.release;
    }
    s.application = "xcap " XCAP_VERSION;
    return s;
}

// The main thread while the capture runs: it sleeps in poll() until a stop
// signal, the writer finishing, a link event, the next --stats line or the
// --duration deadline, so an idle capture costs no wake-ups here either.
capture_end supervise(const capture_options& opts, const device_info& dev, const stop_signals& signals,
                      link_monitor& monitor, const capture_writer& writer, const savefile_set& files,
                      const std::function<capture_totals()>& collect, const capture_log& log, int64_t start,
                      uint32_t frame_limit) {
    capture_totals prev = collect();
    int64_t last_stats = start;
    const int64_t deadline = opts.duration_s > 0 ? start + int64_t(opts.duration_s * 1e9) : 0;
    const int64_t stats_every = int64_t(opts.stats_interval_s * 1e9);
    bool was_up = true;
    uint32_t mtu = dev.mtu;
    for (;;) {
        int64_t now = monotonic_ns();
        int64_t wait_ns = -1;
        if (deadline) {
            wait_ns = std::max<int64_t>(deadline - now, 0);
        }
        if (stats_every > 0) {
            int64_t to_stats = std::max<int64_t>(last_stats + stats_every - now, 0);
            wait_ns = wait_ns < 0 ? to_stats : std::min(wait_ns, to_stats);
        }
        pollfd fds[3] = {{signals.fd(), POLLIN, 0}, {writer.finished_event().fd(), POLLIN, 0}, {monitor.fd(), POLLIN, 0}};
        // Rounded up to whole milliseconds: never wake before the deadline.
        poll(fds, 3, wait_ns < 0 ? -1 : int((wait_ns + 999'999) / 1'000'000));
        if (signals.take()) {
            return capture_end::signal;
        }
        if (writer.finished()) {
            if (writer.limit_reached()) {
                return capture_end::count;
            }
            if (writer.files_done()) {
                return capture_end::files_done;
            }
            return files.error() == EPIPE ? capture_end::output_closed : capture_end::output_failed;
        }
        const link_monitor::state& link = monitor.update();
        if (link.gone) {
            return capture_end::interface_gone;
        }
        if (link.up != was_up) {
            log.warn(dev.name + (link.up ? " is up again" : " went down; xcap keeps capturing when it comes back up"));
            was_up = link.up;
        }
        if (link.mtu && link.mtu != mtu) {
            mtu = link.mtu;
            if (std::string line = mtu_change_line(dev, mtu, frame_limit); !line.empty()) {
                log.warn(line);
            }
        }
        now = monotonic_ns();
        if (deadline && now >= deadline) {
            return capture_end::duration;
        }
        if (stats_every > 0 && now - last_stats >= stats_every) {
            capture_totals cur = collect();
            log.stats(format_stats_line(prev, cur, double(now - last_stats) / 1e9));
            prev = cur;
            last_stats = now;
        }
    }
}

void finish_output(savefile_set& files, const stop_signals& signals, capture_result& result, const capture_log& log,
                   const savefile_set::statistics_source& final_counts) {
    // The last file gets its statistics block, and -z runs on it.
    files.set_statistics_source(final_counts);
    // A second Ctrl-C (or SIGTERM, SIGHUP) ends the wait for -z commands;
    // they go on running, and are named.
    files.close([&] { return signals.take() != 0; });
    for (const auto& p : files.post_rotate_abandoned()) {
        log.warn("stopped waiting for the -z command on " + p.file + " (pid " + std::to_string(p.pid) +
             "); it goes on running");
    }
    // Exact now: what the files hold is captured; what a failed write lost
    // after the writer had counted it is a write error.
    result.totals.written = files.packets_in_files();
    result.totals.write_errors += files.packets_lost();
    result.totals.written_bytes -= std::min(result.totals.written_bytes, files.wire_bytes_lost());
    result.output_error = files.output_error();
}

}  // namespace xcap
