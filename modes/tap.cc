// Tap mode: the XDP program on each interface copies every packet (that the
// filter matches) into the ring buffer of its CPU and passes it on; one
// ringbuf_source per CPU ring feeds the same writer, files, summary and exit
// codes as redirect mode.
#include <algorithm>
#include <memory>
#include <optional>

#include "modes/capture.h"
#include "modes/driver.h"
#include "sources/ringbuf_source.h"
#include "sources/tap_program.h"
#include "writer/writer.h"
#include "common/error.h"
#include "engine/caps.h"
#include "engine/clock.h"
#include "engine/cpu.h"
#include "engine/device.h"
#include "engine/link_monitor.h"
#include "engine/promisc.h"
#include "engine/signals.h"
#include "filter/filter.h"

namespace xcap {
namespace {

// One interface of a tap capture. Members are destroyed in reverse: the
// filter, then the program (which detaches first).
struct tap_interface {
    device_info dev;
    std::unique_ptr<xdp_takeover> takeover;
    std::unique_ptr<promiscuous_mode> promisc;
    std::unique_ptr<tap_program> program;
    std::unique_ptr<xdp_filter_program> filter_program;
    std::unique_ptr<link_monitor> monitor;
};

// pcapng's statistics blocks: what reached each interface's tap program
// after the filter, and what its rings had no room for.
std::vector<interface_statistics> tap_interface_counts(const capture_totals& t) {
    std::vector<interface_statistics> out(std::max<size_t>(t.interfaces.size(), 1));
    for (const auto& q : t.queues) {
        auto& st = out[q.interface < out.size() ? q.interface : 0];
        st.received += q.ring.seen;
        st.dropped += q.ring.ring_full;
    }
    if (out.size() == 1) {
        out[0].dropped += t.write_errors;
    }
    return out;
}

}  // namespace

capture_result run_tap(const capture_options& opts, const capture_log& log) {
    const auto& info = log.info;
    route_library_logs(opts.verbose);

    std::vector<std::unique_ptr<tap_interface>> ifs;
    for (const auto& name : opts.all_interfaces()) {
        auto& r = *ifs.emplace_back(std::make_unique<tap_interface>());
        r.dev = probe_device(name);
        require_up(r.dev);
    }
    require_capabilities(capture_capabilities());
    for (auto& r : ifs) {
        require_linktype(r->dev);
        r->takeover = std::make_unique<xdp_takeover>(r->dev, opts.force);
        r->promisc = promiscuous_for(r->dev, opts);
    }
    std::optional<compiled_filter> filter;
    if (!opts.filter.empty()) {
        filter = compile_filter(opts.filter, opts.snaplen);
    }

    std::vector<interface_description> descriptions;
    for (const auto& r : ifs) {
        auto d = describe_interface(r->dev, "XDP tap: copies through BPF ring buffers, every packet passed on",
                                    opts.snaplen);
        d.filter = opts.filter;
        descriptions.push_back(d);
    }
    savefile_set files(output_config(opts, log), describe_section(), descriptions);

    tap_rings rings(opts.ring_bytes);
    std::unique_ptr<user_filter> slow_filter;  // the filter where XDP cannot hold it
    for (auto& r : ifs) {
        r->program = std::make_unique<tap_program>(rings, opts.snaplen);
        if (filter && !slow_filter) {
            // The tap program takes multi-buffer packets; a tail call needs
            // the same setting on both sides.
            xdp_filter_options fo;
            fo.verbose = opts.verbose;
            fo.frags = true;
            try {
                r->filter_program = std::make_unique<xdp_filter_program>(*filter, fo);
                r->filter_program->set_next(r->program->prog_fd());
            } catch (const filter_too_long& e) {
                slow_filter = user_space_filter(*filter, e, true, log);
            }
        }
    }

    // One source per CPU ring; each record names its interface by ifindex.
    std::vector<std::pair<uint32_t, uint32_t>> index_of;
    for (uint32_t i = 0; i < ifs.size(); ++i) {
        index_of.emplace_back(ifs[i]->dev.ifindex, i);
    }
    std::vector<std::unique_ptr<ringbuf_source>> sources;
    std::vector<packet_source*> srcs;
    for (const auto& ring : rings.rings()) {
        ringbuf_source::options so;
        so.interfaces = index_of;
        const uint32_t cpu = ring.cpu;
        // Losses of this CPU's ring, over every interface's program.
        so.lost = [&ifs, cpu] {
            uint64_t n = 0;
            for (const auto& r : ifs) {
                n += r->program->ring_full_on_cpu(cpu);
            }
            return n;
        };
        so.lazy_wake = [&ifs](bool lazy) {
            for (const auto& r : ifs) {
                r->program->set_lazy_wake(lazy);
            }
        };
        auto& s = sources.emplace_back(std::make_unique<ringbuf_source>(ring.fd.get(), so));
        srcs.push_back(s.get());
    }

    for (auto& r : ifs) {
        r->takeover->apply(info);
        r->program->attach(r->dev, opts.mode, r->filter_program ? r->filter_program->fd() : -1);
        info(r->dev.name + ": " + to_string(r->program->mode()) + " XDP tap, " + std::to_string(rings.rings().size()) +
             " ring buffer" + (rings.rings().size() == 1 ? "" : "s") + " of " +
             std::to_string(rings.bytes_per_cpu() >> 10) + " KiB (one per CPU); packets go on to the stack");
        say_promiscuous(r->dev, r->promisc.get(), log);
    }

    stop_signals signals;
    std::vector<watched_link> links;
    for (auto& r : ifs) {
        r->monitor = std::make_unique<link_monitor>(r->dev.ifindex);
        links.push_back({&r->dev, r->monitor.get()});
    }

    writer_config wcfg;
    wcfg.count_limit = opts.count;
    wcfg.realtime_offset_ns = measure_clock_offset().realtime_minus_monotonic_ns;
    wcfg.flush_when_idle = files.is_stream();
    wcfg.wake_latency_ns = opts.packet_buffered ? 0 : wcfg.wake_latency_ns;  // -U: wake at every first record
    // A head waits for another ring's record in flight only while a quarter
    // of its own ring is still free (backlog() counts 64-byte units).
    wcfg.merge_backlog = std::max<size_t>(rings.bytes_per_cpu() / 64 / 4, 64);
    wcfg.filter = slow_filter.get();
    capture_writer writer(srcs, files, wcfg);

    std::function<capture_totals()> collect = [&] {
        capture_totals t;
        t.tap = true;
        for (uint32_t i = 0; i < ifs.size(); ++i) {
            auto& r = *ifs[i];
            t.interfaces.push_back(r.dev.name);
            const auto per_queue = r.program->counters(r.dev.rx_queues);
            for (uint32_t q = 0; q < per_queue.size(); ++q) {
                queue_totals qt;
                qt.interface = i;
                qt.queue = q;
                qt.tap = true;
                qt.ring = per_queue[q];
                qt.received = qt.ring.recorded;
                t.ring.seen += qt.ring.seen;
                t.ring.recorded += qt.ring.recorded;
                t.ring.ring_full += qt.ring.ring_full;
                t.queues.push_back(qt);
            }
            if (r.filter_program) {
                t.filtered = true;
                t.filter_rejected += r.filter_program->counters().rejected;
            }
        }
        t.ring.filtered = t.filter_rejected;
        for (const auto& s : sources) {
            t.received += s->counters().received.load(std::memory_order_relaxed);
            t.received_bytes += s->counters().received_bytes.load(std::memory_order_relaxed);
        }
        add_writer_counts(t, writer);
        return t;
    };
    // Detached, no record is reserved any more; the writer drains what the
    // rings hold (a record reserved just before the detach is committed
    // within the program's run, before the drain's last look).
    return run_pipeline(opts, links, signals, writer, files, collect, tap_interface_counts,
                        [&] {
                            for (auto& r : ifs) {
                                r->program->detach();
                            }
                        },
                        log);
}

}  // namespace xcap
