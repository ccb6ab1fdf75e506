#include "modes/driver.h"

#include <poll.h>
#include <sys/utsname.h>

#include <algorithm>
#include <cstring>
#include <fstream>

#include "sources/frame_limit.h"
#include "common/error.h"
#include "engine/clock.h"
#include "engine/cpu.h"
#include "engine/privileges.h"

namespace xcap {

namespace {

// An interface the capture watches: its facts and its link events.
struct watched_link {
    const device_info* dev;
    link_monitor* monitor;
    uint32_t frame_limit = 0;  // the longest frame the capture takes there (0 = any)
};

// Stops and joins the capture thread on every path out of a capture.
struct capture_thread {
    stop_event stop;
    std::thread thread;

    void stop_and_join() {
        stop.request();
        if (thread.joinable()) {
            thread.join();
        }
    }
    ~capture_thread() { stop_and_join(); }
};

// The main thread while the capture runs: it sleeps in poll() until a stop
// signal, the writer finishing, a link event, the next --stats line or the
// --duration deadline, so an idle capture costs no wake-ups here either.
// Any interface disappearing ends it (interface_gone, its name in `*gone`);
// one going down or up, or its MTU raised past its frame_limit, is a warning
// line, and the capture goes on.
capture_end supervise(const capture_options& opts, const std::vector<watched_link>& links,
                      const stop_signals& signals, const capture_writer& writer,
                      const std::function<capture_totals()>& collect, const capture_log& log, int64_t start,
                      std::string* gone) {
    capture_totals prev = collect();
    int64_t last_stats = start;
    const int64_t deadline = opts.duration_s > 0 ? start + int64_t(opts.duration_s * 1e9) : 0;
    const int64_t stats_every = int64_t(opts.stats_interval_s * 1e9);
    std::vector<bool> was_up(links.size(), true);
    std::vector<uint32_t> mtu;
    for (const auto& l : links) {
        mtu.push_back(l.dev->mtu);
    }
    std::vector<pollfd> fds = {{signals.fd(), POLLIN, 0}, {writer.finished_event().fd(), POLLIN, 0}};
    for (const auto& l : links) {
        fds.push_back({l.monitor->fd(), POLLIN, 0});
    }
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
        // Rounded up to whole milliseconds: never wake before the deadline.
        poll(fds.data(), fds.size(), wait_ns < 0 ? -1 : int((wait_ns + 999'999) / 1'000'000));
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
            return writer.output_error() == EPIPE ? capture_end::output_closed : capture_end::output_failed;
        }
        for (size_t i = 0; i < links.size(); ++i) {
            const link_monitor::state* state = &links[i].monitor->update();
            if (!state->up && was_up[i] && !state->gone) {
                // A deleted interface goes down first and is removed a moment
                // later: look for the removal before saying it went down.
                pollfd pf{links[i].monitor->fd(), POLLIN, 0};
                poll(&pf, 1, 200);
                state = &links[i].monitor->update();
            }
            const link_monitor::state& link = *state;
            const std::string& name = links[i].dev->name;
            if (link.gone) {
                if (gone) {
                    *gone = name;
                }
                return capture_end::interface_gone;
            }
            if (link.up != was_up[i]) {
                log.warn(name + (link.up ? " is up again" : " went down; xcap keeps capturing when it comes back up"));
                was_up[i] = link.up;
            }
            if (link.mtu && link.mtu != mtu[i]) {
                mtu[i] = link.mtu;
                if (std::string line = mtu_change_line(*links[i].dev, mtu[i], links[i].frame_limit); !line.empty()) {
                    log.warn(line);
                }
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
    result.totals.buffer_full = files.packets_buffer_full();
    result.totals.written_bytes -= std::min(result.totals.written_bytes,
                                            files.wire_bytes_lost() + files.wire_bytes_buffer_full());
    result.output_error = files.output_error();
    result.output_name = files.files_description();
}

std::unique_ptr<promiscuous_mode> promiscuous_for(const device_info& dev, const capture_options& opts) {
    return opts.promiscuous ? std::make_unique<promiscuous_mode>(dev.name, dev.ifindex) : nullptr;
}

// The end of the privileged part (-Z): the first file becomes the user's,
// then xcap becomes the user and drops every capability. Before the capture
// thread starts, which inherits the dropped set.
void give_up_privileges(const std::optional<run_as_user>& user, savefile_set& files, const capture_log& log) {
    if (user) {
        if (int err = files.give_to(user->uid, user->gid); err != 0) {
            log.warn("cannot make " + files.current_name() + " " + user->name + "'s: " + std::strerror(err) +
                     "; it stays its creator's");
        }
    }
    const privilege_drop d = drop_privileges(user);
    if (d.switched) {
        log.info("running as " + user->name + " (uid " + std::to_string(user->uid) + "), no capabilities left");
    } else if (d.dropped_caps) {
        log.info("set up; no capabilities left");
    } else if (!d.skipped_because.empty()) {
        log.info((user ? "not switching to " + user->name : std::string("keeping capabilities")) + ": " +
                 d.skipped_because);
    }
}

void say_promiscuous(const device_info& dev, const promiscuous_mode* promisc, const capture_log& log) {
    if (promisc) {
        log.info(dev.name + ": promiscuous mode on while xcap runs (-p leaves it off)");
    }
}

}  // namespace

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

void add_writer_counts(capture_totals& t, const capture_writer& writer) {
    const writer_counters& w = writer.counters();
    t.user_filtered = writer.filters();
    t.user_filter_rejected = w.filter_rejected.load(std::memory_order_relaxed);
    t.written = w.written.load(std::memory_order_relaxed);
    t.written_bytes = w.written_bytes.load(std::memory_order_relaxed);
    t.snaplen_cut = w.snaplen_cut.load(std::memory_order_relaxed);
    t.write_errors = w.write_errors.load(std::memory_order_relaxed);
    t.over_limit = w.over_limit.load(std::memory_order_relaxed);
    t.meta_missing = w.meta_missing.load(std::memory_order_relaxed);
}

capture_result run_mode(capture_mode& mode, const capture_options& opts, const capture_log& log) {
    // Taken by this thread only, from before the output file exists: a stop
    // signal during the rest of the set-up waits for the capture loop, which
    // ends at once with the file whole (its headers written), where the
    // default action would end the process with the file empty. Threads
    // started from here on (the capture thread) inherit the mask.
    stop_signals signals;
    // Everything that can refuse is done (the mode's constructor), but for
    // -Z's user, promiscuous mode and the output, whose refusals leave nothing behind.
    const std::optional<run_as_user> run_as = choose_run_as(opts.run_as);
    std::vector<std::unique_ptr<promiscuous_mode>> promisc;
    for (const auto& i : mode.interfaces()) {
        promisc.push_back(promiscuous_for(*i.dev, opts));
    }
    savefile_set files(output_config(opts, mode.default_format(), log), describe_section(),
                       mode.describe());
    if (opts.verbose && !files.write_path().empty()) {
        log.info(files.current_name() + ": " + files.write_path());
    }
    mode.attach(log);
    const auto ifs = mode.interfaces();
    for (size_t k = 0; k < ifs.size(); ++k) {
        say_promiscuous(*ifs[k].dev, promisc[k].get(), log);
    }

    std::vector<std::unique_ptr<link_monitor>> monitors;
    std::vector<watched_link> links;
    for (const auto& i : ifs) {
        monitors.push_back(std::make_unique<link_monitor>(i.dev->ifindex));
        links.push_back({i.dev, monitors.back().get(), i.frame_limit});
    }

    writer_config wcfg;
    wcfg.count_limit = opts.count;
    wcfg.realtime_offset_ns = measure_clock_offset().realtime_minus_monotonic_ns;
    wcfg.flush_when_idle = files.is_stream();
    wcfg.wake_latency_ns = opts.packet_buffered ? 0 : wcfg.wake_latency_ns;  // -U: wake at every first record
    mode.configure(wcfg);
    capture_writer writer(mode.sources(), files, wcfg);
    const auto collect = [&] {
        capture_totals t = mode.collect(writer);
        t.buffer_full = files.packets_buffer_full();
        return t;
    };

    // Rotated pcapng files end with the counts so far. Called on the writer
    // thread; it reads only counters and the sockets' statistics.
    files.set_statistics_source([&] { return interface_counts(collect()); });
    give_up_privileges(run_as, files, log);
    // Every step that could refuse is behind us: the output is the user's now.
    files.begin();
    const int64_t start = monotonic_ns();
    capture_result result;
    {
        capture_thread ct;
        ct.thread = start_thread(mode.thread_name(), -1, [&] { writer.run(ct.stop); });
        result.end = supervise(opts, links, signals, writer, collect, log, start, &result.gone_interface);
        // Stop the input first, then drain: the capture thread empties what
        // the rings hold (a packet between the program and its ring when
        // the program is detached included) and flushes.
        mode.stop_input();
        ct.stop_and_join();
    }
    if (opts.verbose) {
        const auto& w = writer.counters();
        log.info("capture thread slept " + std::to_string(w.sleeps.load()) + " times, " +
                 std::to_string(w.rung.load()) + " of them until a batch of packets had gathered");
    }
    // Losses not yet attributed to a record still count: collect() reads the
    // programs' and sockets' own counters.
    result.totals = collect();
    result.totals.seconds = double(monotonic_ns() - start) / 1e9;
    finish_output(files, signals, result, log, [&] { return interface_counts(result.totals); });
    return result;
}

std::string clock_note(const capture_options& opts) {
    return opts.nic_time ? "; time stamps from the NIC's clock (adapter_unsynced, not synced with the host's), the "
                           "kernel's where a packet has none"
                         : "";
}

void require_linktype(const device_info& dev) {
    if (linktype_for(dev.arphrd) == 0) {
        throw failure(failure_kind::unsupported, dev.name + " has link type ARPHRD " + std::to_string(dev.arphrd) +
                                                     ", which xcap cannot label in a capture file",
                      "xcap captures Ethernet, loopback and IP-only (tun, ipip, gre, wireguard) interfaces");
    }
}

filter_stage::filter_stage(const capture_options& opts, bool tap) : _tap(tap), _verbose(opts.verbose) {
    if (!opts.filter.empty()) {
        _filter = compile_filter(opts.filter, opts.snaplen);
    }
}

std::unique_ptr<xdp_filter_program> filter_stage::load(int next_prog_fd, bool frags, int reject_fd) {
    if (!_filter || _slow) {
        return nullptr;
    }
    xdp_filter_options fo;
    fo.verbose = _verbose;
    fo.frags = frags;  // a tail call needs the same setting on both sides
    fo.reject_next = reject_fd >= 0;
    try {
        auto p = std::make_unique<xdp_filter_program>(*_filter, fo);
        p->set_next(next_prog_fd);
        if (reject_fd >= 0) {
            p->set_reject_next(reject_fd);
        }
        return p;
    } catch (const filter_too_long& e) {
        // As tcpdump filters in user space when the kernel refuses its filter.
        _slow = std::make_unique<user_filter>(*_filter);
        _slow_line = "warning: " + std::string(e.what()) +
                     "; xcap runs it on its capture thread instead, as tcpdump does when the kernel refuses its "
                     "filter: every packet is copied to xcap" +
                     (_tap ? std::string(" first")
                           : std::string(", and none goes on to the network stack (use --tap to let them)")) +
                     ", and the filter's " + std::to_string(_filter->classic.size()) +
                     " classic instructions run on each: at high rates expect drops, each counted";
        return nullptr;
    }
}

void filter_stage::warn(const capture_log& log) const {
    if (_slow) {
        log.warn(_slow_line);
    }
}

nic_front::nic_front(const device_info& dev, const capture_options& opts)
    : _dev(dev), _verbose(opts.verbose), _time(opts.nic_time) {
    const nic_metadata m = query_nic_metadata(dev.ifindex);
    if (_time && (!m.timestamp || opts.mode == xdp_mode::generic)) {
        throw failure(failure_kind::unsupported,
                      "-j adapter_unsynced: " + dev.name +
                          (m.timestamp ? " gives time stamps only to native XDP" : "'s driver gives XDP no receive time stamps"),
                      "leave out -j (host time), or see xcap -J -i " + dev.name);
    }
    if (_time) {
        _vlan = m.vlan_tag;
        _state = create_nic_state_map();
    } else if (opts.mode == xdp_mode::generic) {
        _note = "generic XDP cannot run a device-bound program";
    } else if (!m.vlan_tag) {
        _note = m.reported ? "its driver does not report VLAN tags to XDP"
                           : "this kernel does not report VLAN tags to XDP (Linux 6.8 and later do)";
    } else {
        _vlan = true;
        _state = create_nic_state_map();
    }
}

void nic_front::load(bool frags) {
    if (!_state) {
        return;
    }
    try {
        _program = std::make_unique<nic_program>(_dev, nic_program::options{.vlan = _vlan, .timestamp = _time,
                                                                            .frags = frags,
                                                                            .state_map_fd = _state.get()});
    } catch (const failure& e) {
        if (_time) {
            throw;
        }
        _note = std::string(e.what());
    }
}

std::vector<std::string> nic_front::program_lines() const {
    std::vector<std::string> out;
    if (!_program) {
        return out;
    }
    const xcap_nic_counters c = _program->counters();
    if (_vlan) {
        out.push_back(_dev.name + ": " + std::to_string(c.vlan_restored) + " VLAN tags put back" +
                      (c.vlan_no_room ? ", " + std::to_string(c.vlan_no_room) + " left out (no headroom)" : ""));
    }
    if (_time) {
        out.push_back(_dev.name + ": " + std::to_string(c.ts_nic) + " packets with the NIC's time stamp, " +
                      std::to_string(c.ts_missing) + " without one (nic_time_missing: the kernel's time instead)");
    }
    return out;
}

void nic_front::chain(int next_fd) {
    if (_program) {
        _program->set_next(next_fd);
    }
}

void nic_front::attach(const std::function<void(int, xdp_mode)>& attach, int plain_fd, xdp_mode mode,
                       const capture_log& log) {
    if (_program) {
        try {
            attach(_program->prog_fd(), xdp_mode::native);
            if (_verbose) {
                log.info(_dev.name + ": VLAN tags the driver takes off are put back into each frame");
            }
            return;
        } catch (const failure& e) {
            if (mode == xdp_mode::native || _time) {
                throw;
            }
            _note = "the device-bound program needs native XDP (" + std::string(e.what()) + ")";
            _program.reset();
        }
    }
    attach(plain_fd, mode);
    if (_verbose) {
        log.info(_dev.name + ": " + _note + ": VLAN tags the NIC strips (rx-vlan-offload) are missing from the "
                 "capture; `ethtool -K " + _dev.name + " rxvlan off` keeps them in the frame");
    }
}

savefile_config output_config(const capture_options& opts, file_format otherwise, const capture_log& log) {
    savefile_config fcfg;
    fcfg.path = opts.output_path;
    fcfg.format = output_format(opts.format, opts.output_path, otherwise);
    fcfg.nanosecond = opts.nanosecond;
    fcfg.rotate_bytes = opts.rotate_bytes;
    fcfg.rotate_seconds = opts.rotate_seconds;
    fcfg.max_files = opts.max_files;
    fcfg.post_rotate = opts.post_rotate;
    fcfg.packet_buffered = opts.packet_buffered;
    fcfg.disk_buffer = opts.disk_buffer;
    fcfg.wait_for_begin = true;
    auto warn = log.warn;
    fcfg.post_rotate_report = [warn](const post_rotate_failure& f) { warn(f.message()); };
    return fcfg;
}

interface_description describe_interface(const device_info& dev, const std::string& description, uint32_t snaplen) {
    interface_description d;
    d.name = dev.name;
    d.description = description;
    if (!dev.driver.empty()) {
        d.hardware = "driver " + dev.driver;
        if (!dev.driver_version.empty()) {
            d.hardware += " " + dev.driver_version;
        }
        if (!dev.firmware.empty() && dev.firmware != "N/A") {
            d.hardware += ", firmware " + dev.firmware;
        }
        if (!dev.bus.empty() && dev.bus != "N/A") {
            d.hardware += ", bus " + dev.bus;
        }
    }
    d.speed_bps = dev.speed_mbps > 0 ? uint64_t(dev.speed_mbps) * 1'000'000 : 0;
    d.linktype = linktype_for(dev.arphrd);
    d.snaplen = snaplen;
    return d;
}

}  // namespace xcap
