#include "modes/trace.h"

#include <linux/capability.h>

#include <algorithm>
#include <memory>
#include <optional>

#include "modes/driver.h"
#include "sources/ringbuf_source.h"
#include "writer/writer.h"
#include "common/error.h"
#include "engine/caps.h"
#include "engine/clock.h"
#include "engine/cpu.h"
#include "engine/device.h"
#include "engine/link_monitor.h"
#include "engine/signals.h"
#include "engine/xdp_programs.h"
#include "filter/filter.h"
#include "filter/interpreter.h"

namespace xcap {
namespace {

const std::vector<capability_need>& trace_capabilities(bool hook) {
    static const std::vector<capability_need> fentry = {
        {CAP_SYS_ADMIN, "CAP_SYS_ADMIN", "open the attached XDP program by its id"},
        {CAP_BPF, "CAP_BPF", "load the recording programs"},
        {CAP_PERFMON, "CAP_PERFMON", "read packets from fentry/fexit programs"},
    };
    static const std::vector<capability_need> hooked = {
        {CAP_SYS_ADMIN, "CAP_SYS_ADMIN", "look at the programs in the hook's slots"},
        {CAP_BPF, "CAP_BPF", "load the recording programs"},
    };
    return hook ? hooked : fentry;
}

// Trace writes pcapng (verdicts, pair ids, entry/exit comments) unless asked
// for pcap by --format or a name ending in .pcap.
file_format trace_format(const capture_options& o) {
    if (o.format) {
        return *o.format;
    }
    const std::string& p = o.output_path;
    return p.size() > 5 && p.compare(p.size() - 5, 5, ".pcap") == 0 ? file_format::pcap : file_format::pcapng;
}

std::string where_traced(const trace_options& o) {
    if (!o.hook.empty()) {
        return "at exit";
    }
    if (o.at_entry && o.at_exit) {
        return "at entry and exit";
    }
    return o.at_entry ? "at entry" : "at exit";
}

std::string size_text(uint64_t bytes) {
    if (bytes >= (1u << 20) && bytes % (1u << 20) == 0) {
        return std::to_string(bytes >> 20) + " MiB";
    }
    return std::to_string(bytes >> 10) + " KiB";
}

}  // namespace

uint64_t trace_totals::offered() const {
    uint64_t n = 0;
    for (const auto& p : programs) {
        n += p.recorded + p.ring_full;
    }
    return n;
}

uint64_t trace_totals::not_matched() const {
    uint64_t n = 0;
    for (const auto& p : programs) {
        n += p.filtered;
    }
    return n;
}

uint64_t trace_totals::ring_full() const {
    uint64_t n = 0;
    for (const auto& p : programs) {
        n += p.ring_full;
    }
    return n;
}

trace_result run_trace(const trace_options& opts, const capture_log& log) {
    const capture_options& co = opts.capture;
    const bool hook = !opts.hook.empty();
    route_library_logs(co.verbose);
    const uint32_t snaplen = std::min<uint32_t>(co.snaplen, XCAP_TRACE_MAX_CAP);

    // A bad expression fails first (exit 2), before anything is looked at
    // or loaded; so does one the recorders' interpreter cannot run.
    std::optional<interpreter_program> filter;
    if (!co.filter.empty()) {
        filter = prepare_interpreter(compile_filter(co.filter, snaplen), "in xcap trace");
    }

    // Everything that can be checked without side effects comes first.
    std::optional<device_info> dev;
    if (!co.interface.empty()) {
        dev = probe_device(co.interface);
    }
    require_capabilities(trace_capabilities(hook));
    std::vector<xdp_program_ref> targets;
    std::string traced;  // for the lines and the file's interface description
    if (!hook) {
        xdp_programs_found found = find_xdp_programs(*dev);
        targets = select_programs(found, opts.program, dev->name);
        for (const auto& t : targets) {
            traced += (traced.empty() ? "" : ", ") + t.describe();
        }
        if (found.dispatcher) {
            traced += " behind libxdp's dispatcher";
        }
    } else {
        traced = "the xdpcap hook " + opts.hook;
    }
    const uint32_t linktype = dev ? linktype_for(dev->arphrd) : 1;
    if (linktype == 0) {
        throw failure(failure_kind::unsupported,
                      dev->name + " has link type ARPHRD " + std::to_string(dev->arphrd) +
                          ", which xcap cannot label in a capture file",
                      "xcap traces Ethernet, loopback and IP-only interfaces");
    }

    recorder_options ro;
    ro.snaplen = snaplen;
    ro.filter = filter ? &*filter : nullptr;
    ro.ring_bytes = opts.ring_bytes;
    ro.entry = opts.at_entry;
    ro.exit = opts.at_exit;
    ro.force = co.force;
    ro.verbose = co.verbose;
    // Destruction order is the reverse: threads, the source, the output, then
    // the recorders (whose programs stop recording before the drain anyway).
    std::unique_ptr<fentry_recorder> fentry;
    std::unique_ptr<hook_recorder> hooked;
    if (hook) {
        hooked = std::make_unique<hook_recorder>(opts.hook, ro, log.info);
    } else {
        fentry = std::make_unique<fentry_recorder>(targets, ro);
    }
    // The traced program sees what a capture would: frames for other MACs too.
    std::unique_ptr<promiscuous_mode> promisc;
    if (dev) {
        promisc = promiscuous_for(*dev, co);
    }
    // The output is opened once the recorders are in place: where the kernel
    // refuses them no file is left behind; an unwritable path unloads them.
    savefile_config fcfg;
    fcfg.path = co.output_path;
    fcfg.format = trace_format(co);
    fcfg.nanosecond = co.nanosecond;
    fcfg.rotate_bytes = co.rotate_bytes;
    fcfg.rotate_seconds = co.rotate_seconds;
    fcfg.max_files = co.max_files;
    fcfg.post_rotate = co.post_rotate;
    fcfg.packet_buffered = co.packet_buffered;
    fcfg.wait_for_begin = true;
    fcfg.post_rotate_report = [&](const post_rotate_failure& f) { log.warn(f.message()); };
    interface_description iface;
    iface.name = dev ? dev->name : opts.hook;
    iface.description = "xcap trace of " + traced + " " + where_traced(opts);
    iface.linktype = linktype;
    iface.snaplen = snaplen;  // what a record can hold
    iface.filter = co.filter;  // pcapng's if_filter
    savefile_set files(fcfg, describe_section(), {iface});

    auto counts = [&] { return hooked ? hooked->counts() : fentry->counts(); };

    ringbuf_source::options so;
    if (dev) {
        so.interfaces.push_back({dev->ifindex, 0});
    }
    so.lost = [&] {
        uint64_t n = 0;
        for (const auto& c : counts()) {
            n += c.ring_full;
        }
        return n;
    };
    ringbuf_source source(hooked ? hooked->ring_fd() : fentry->ring_fd(), so);
    for (const auto& t : targets) {
        source.name_program(t.id, t.describe());
    }
    if (hooked) {
        source.name_program(0, "hook " + opts.hook);
    }
    log.info("tracing " + traced + (dev ? " on " + dev->name : std::string()) + " " + where_traced(opts) + " (" +
             (hook ? "hook programs" : "fentry/fexit") + "), ring buffer " + size_text(opts.ring_bytes) +
             (filter ? ", filter '" + co.filter + "' (" + std::to_string(filter->insns.size()) +
                           " classic instructions, interpreted)"
                     : std::string()));
    if (dev) {
        say_promiscuous(*dev, promisc.get(), log);
    }

    // Taken by this thread only; the capture thread inherits the mask.
    stop_signals signals;
    link_monitor monitor(dev ? dev->ifindex : 0);
    device_info no_device;

    writer_config wcfg;
    wcfg.count_limit = co.count;
    wcfg.realtime_offset_ns = measure_clock_offset().realtime_minus_monotonic_ns;
    wcfg.flush_when_idle = files.is_stream();
    wcfg.merge_backlog = std::max<size_t>(source.ring_size() / 64 / 4, 64);
    capture_writer writer({&source}, files, wcfg);

    std::function<capture_totals()> collect = [&] {
        capture_totals t;
        t.received = source.counters().received.load(std::memory_order_relaxed);
        t.received_bytes = source.counters().received_bytes.load(std::memory_order_relaxed);
        // Ring-full losses, for --stats' "ring_full" and the total dropped.
        queue_totals q;
        q.received = t.received;
        q.xsk.rx_ring_full = so.lost();
        t.xsk.rx_ring_full = q.xsk.rx_ring_full;
        t.queues.push_back(q);
        add_writer_counts(t, writer);
        if (filter) {
            // For --stats' "did not match the filter".
            t.filtered = true;
            for (const auto& c : counts()) {
                t.filter_rejected += c.filtered;
            }
        }
        return t;
    };
    auto interface_counts = [](const capture_totals& t) {
        interface_statistics st;
        st.received = t.received + t.dropped() - t.write_errors;
        st.dropped = t.dropped();
        return std::vector<interface_statistics>{st};
    };
    trace_result result;
    // Stop recording first, then drain what the ring holds.
    const capture_result cr = run_pipeline(co, {{dev ? &*dev : &no_device, &monitor}}, signals, writer, files, collect,
                                           interface_counts,
                                           [&] {
                                               if (hooked) {
                                                   hooked->remove();
                                               } else {
                                                   fentry->detach();
                                               }
                                           },
                                           log, "xcap-trace");
    result.end = cr.end;
    result.output_error = cr.output_error;
    result.output_name = cr.output_name;
    result.totals.capture = cr.totals;
    result.totals.programs = counts();
    result.totals.hook = hook;
    result.totals.at_entry = hook ? false : opts.at_entry;
    result.totals.at_exit = hook ? true : opts.at_exit;
    result.totals.ring_bytes = source.ring_size();
    result.totals.filtered = filter.has_value();
    return result;
}

}  // namespace xcap
