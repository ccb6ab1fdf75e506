#include "modes/capture.h"

#include <bpf/bpf.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <fstream>
#include <memory>
#include <thread>

#include "engine/caps.h"
#include "engine/clock.h"
#include "engine/cpu.h"
#include "engine/device.h"
#include "engine/host_use.h"
#include "engine/link_monitor.h"
#include "engine/promisc.h"
#include "engine/signals.h"
#include "filter/filter.h"
#include "common/error.h"
#include "pcap/savefile.h"
#include "sources/frame_limit.h"
#include "modes/driver.h"
#include "sources/rx_program.h"
#include "sources/xsk_source.h"
#include "writer/writer.h"

namespace xcap {

uint32_t umem_frame_size(uint32_t largest_frame, bool multi_buffer) {
    return multi_buffer && largest_frame <= 2048 - xsk_rx_headroom ? 2048 : 4096;
}

uint32_t umem_frames(uint64_t kib, uint32_t frame_size) {
    uint32_t frames = 1;
    while (uint64_t(frames) * 2 * frame_size <= kib * 1024) {
        frames *= 2;
    }
    return frames;
}
namespace {

std::vector<uint32_t> choose_queues(const capture_options& opts, const device_info& dev) {
    std::vector<uint32_t> queues = opts.queues;
    if (queues.empty()) {
        for (uint32_t q = 0; q < dev.rx_queues && q < XCAP_MAX_QUEUES; ++q) {
            queues.push_back(q);
        }
    }
    for (uint32_t q : queues) {
        if (q >= dev.rx_queues) {
            throw failure(failure_kind::usage,
                              "--queues: " + dev.name + " has no queue " + std::to_string(q) + " (it has " +
                                  std::to_string(dev.rx_queues) + " RX queue" + (dev.rx_queues == 1 ? "" : "s") +
                                  ", 0-" + std::to_string(dev.rx_queues - 1) + ")",
                              "choose queues in that range, or leave out --queues for all");
        }
    }
    return queues;
}

// For pcapng's statistics blocks, per interface: packets that reached the
// sockets (received by xcap or dropped by the kernel on the way), and all
// drops. Write errors are the output's, not an interface's: with one
// interface they count there, as they always did.
std::vector<interface_statistics> interface_counts(const capture_totals& t) {
    std::vector<interface_statistics> out(std::max<size_t>(t.interfaces.size(), 1));
    for (const auto& q : t.queues) {
        auto& st = out[q.interface < out.size() ? q.interface : 0];
        st.received += q.received + q.dropped();
        st.dropped += q.dropped();
    }
    if (out.size() == 1) {
        out[0].dropped += t.write_errors;
    }
    return out;
}

void add(xdp_statistics& a, const xdp_statistics& b) {
    a.rx_dropped += b.rx_dropped;
    a.rx_invalid_descs += b.rx_invalid_descs;
    a.tx_invalid_descs += b.tx_invalid_descs;
    a.rx_ring_full += b.rx_ring_full;
    a.rx_fill_ring_empty_descs += b.rx_fill_ring_empty_descs;
    a.tx_ring_empty_descs += b.tx_ring_empty_descs;
}

}  // namespace

uint64_t capture_totals::dropped() const {
    uint64_t n = write_errors + program.too_large;
    for (const auto& q : queues) {
        n += q.dropped();
    }
    return n;
}

namespace {

// One interface of a redirect capture: its program, sockets and sources.
// Members are destroyed in reverse: sources, sockets, filter, program.
struct redirect_interface {
    device_info dev;
    std::vector<uint32_t> queues;
    std::unique_ptr<xdp_takeover> takeover;
    std::unique_ptr<promiscuous_mode> promisc;
    std::unique_ptr<rx_program> program;
    std::unique_ptr<xdp_filter_program> filter_program;
    std::vector<std::unique_ptr<xsk_queue>> xsks;
    std::vector<std::unique_ptr<xsk_source>> sources;
    std::unique_ptr<link_monitor> monitor;
    std::vector<xdp_statistics> last_xsk;  // the last statistics each socket gave: a failed read keeps them
    uint32_t frame_limit = 0;              // bytes a socket takes per packet; 0 = any (multi-buffer)
    std::string limit_line;                // said once at start when frame_limit is below the MTU's frames
};

}  // namespace

capture_result run_capture(const capture_options& opts, const capture_log& log) {
    const auto& info = log.info;
    route_library_logs(opts.verbose);

    // Everything that can be checked without side effects comes first, for
    // every interface.
    std::vector<std::unique_ptr<redirect_interface>> ifs;
    for (const auto& name : opts.all_interfaces()) {
        auto& r = *ifs.emplace_back(std::make_unique<redirect_interface>());
        r.dev = probe_device(name);
        require_up(r.dev);
    }
    require_capabilities(capture_capabilities());
    for (auto& r : ifs) {
        r->queues = choose_queues(opts, r->dev);
        require_linktype(r->dev);
        r->takeover = std::make_unique<xdp_takeover>(r->dev, opts.force);
        r->promisc = promiscuous_for(r->dev, opts);
    }
    // A bad expression fails here (exit 2), before anything is set up.
    std::optional<compiled_filter> filter;
    if (!opts.filter.empty()) {
        filter = compile_filter(opts.filter, opts.snaplen);
    }

    // The output is opened before anything is attached, so an unwritable
    // path fails with nothing to undo.
    std::vector<interface_description> descriptions;
    for (const auto& r : ifs) {
        std::string list;
        for (uint32_t q : r->queues) {
            list += (list.empty() ? "" : ",") + std::to_string(q);
        }
        auto d = describe_interface(r->dev, "AF_XDP capture of RX queue" + std::string(r->queues.size() == 1 ? " " : "s ") + list,
                                    opts.snaplen);
        d.filter = opts.filter;  // pcapng's if_filter
        descriptions.push_back(d);
    }
    savefile_set files(output_config(opts, log), describe_section(), descriptions);

    // Jumbo frames: multi-buffer sockets and a frags program where the
    // kernel has them (sources/frame_limit.h for where it does not).
    const bool multi_buffer = xsk_multibuffer_supported();
    std::vector<packet_source*> srcs;
    uint32_t fewest_frames = UINT32_MAX;  // of any queue
    uint32_t frames_per_packet = 1;       // the most one packet of the largest frame takes, anywhere
    std::unique_ptr<user_filter> slow_filter;  // the filter where XDP cannot hold it
    for (uint32_t i = 0; i < ifs.size(); ++i) {
        auto& r = *ifs[i];
        r.program = std::make_unique<rx_program>(multi_buffer);
        xsk_config icfg;
        icfg.frame_size = umem_frame_size(largest_frame(r.dev, r.dev.mtu), r.program->frags());
        icfg.frame_count = umem_frames(opts.buffer_kib, icfg.frame_size);
        fewest_frames = std::min(fewest_frames, icfg.frame_count);
        const uint32_t room = icfg.frame_size - xsk_rx_headroom;
        frames_per_packet = std::max(frames_per_packet, (largest_frame(r.dev, r.dev.mtu) + room - 1) / room);
        icfg.multi_buffer = r.program->frags();
        icfg.prefer_multi_buffer = largest_frame(r.dev, r.dev.mtu) > icfg.frame_size - xsk_rx_headroom;
        for (uint32_t q : r.queues) {
            auto& x = r.xsks.emplace_back(std::make_unique<xsk_queue>(r.dev.name, q, icfg, opts.bind));
            int fd = x->fd();
            if (bpf_map_update_elem(r.program->xsks_map_fd(), &q, &fd, 0) != 0) {
                throw failure(failure_kind::runtime, errno,
                              "cannot register the socket of " + r.dev.name + " queue " + std::to_string(q));
            }
            auto& src = r.sources.emplace_back(std::make_unique<xsk_source>(*x, r.program->issued_counter(q)));
            src->set_interface(i);
            src->set_doorbell(r.program->wake_at(q), r.program.get());
            srcs.push_back(src.get());
        }
        r.last_xsk.resize(r.xsks.size());
        for (const auto& x : r.xsks) {
            r.frame_limit = x->multi_buffer() ? r.frame_limit : icfg.frame_size - xsk_rx_headroom;
        }
        r.program->set_max_len(r.frame_limit);
        r.limit_line = check_frame_limit(r.dev, r.frame_limit,
                                         r.program->frags() ? frame_limit_cause::driver : frame_limit_cause::kernel,
                                         opts.mode);
        // With a filter, its program runs first and tail-calls the capture
        // program on a match; what does not match goes on to the stack.
        if (filter && !slow_filter) {
            xdp_filter_options fo;
            fo.verbose = opts.verbose;
            fo.frags = r.program->frags();  // a tail call needs the same setting
            try {
                r.filter_program = std::make_unique<xdp_filter_program>(*filter, fo);
                r.filter_program->set_next(r.program->prog_fd());
            } catch (const filter_too_long& e) {
                slow_filter = user_space_filter(*filter, e, false, log);
            }
        }
    }
    for (auto& r : ifs) {
        r->takeover->apply(info);
        r->program->attach(r->dev, opts.mode, r->filter_program ? r->filter_program->fd() : -1);
        for (const auto& x : r->xsks) {
            info(r->dev.name + " queue " + std::to_string(x->queue()) + ": " + to_string(r->program->mode()) +
                 " XDP, " + (x->zero_copy() ? "zero-copy" : "copy") + " mode" + (x->multi_buffer() ? ", multi-buffer" : "") +
                 ", " + std::to_string(x->config().frame_count) + " frames of " +
                 std::to_string(x->config().frame_size / 1024) + " KiB");
        }
        say_promiscuous(r->dev, r->promisc.get(), log);
        if (!r->limit_line.empty()) {
            log.warn(r->limit_line);
        }
    }
    // Attached: from now on the host sees none of these interfaces' packets.
    for (const auto& r : ifs) {
        if (std::string why = host_use(r->dev.name); !why.empty()) {
            log.warn("warning: " + r->dev.name + " " + why + ": the host's own traffic on it stops while xcap runs " +
                     "(every packet goes to xcap); --tap captures a copy and lets it through");
        }
    }

    // Taken by this thread only; the capture threads inherit the mask.
    stop_signals signals;
    std::vector<watched_link> links;
    for (auto& r : ifs) {
        r->monitor = std::make_unique<link_monitor>(r->dev.ifindex);
        links.push_back({&r->dev, r->monitor.get(), r->frame_limit});
    }

    writer_config wcfg;
    wcfg.count_limit = opts.count;
    wcfg.realtime_offset_ns = measure_clock_offset().realtime_minus_monotonic_ns;
    wcfg.flush_when_idle = files.is_stream();
    wcfg.merge_backlog = std::max<size_t>(fewest_frames / 4, 64);
    // The writer wakes when a queue has a quarter of its frames in use, in
    // packets of the largest frame any interface takes (a jumbo frame spans
    // several), or after 100 ms; -U: at every first packet.
    wcfg.wake_batch = std::max<uint32_t>(fewest_frames / 4 / frames_per_packet, 1);
    wcfg.wake_latency_ns = opts.packet_buffered ? 0 : wcfg.wake_latency_ns;
    wcfg.filter = slow_filter.get();
    capture_writer writer(srcs, files, wcfg);

    std::function<capture_totals()> collect = [&] {
        capture_totals t;
        for (uint32_t i = 0; i < ifs.size(); ++i) {
            auto& r = *ifs[i];
            t.interfaces.push_back(r.dev.name);
            for (size_t k = 0; k < r.xsks.size(); ++k) {
                queue_totals qt;
                qt.interface = i;
                qt.queue = r.xsks[k]->queue();
                qt.zero_copy = r.xsks[k]->zero_copy();
                qt.received = r.sources[k]->counters().received.load(std::memory_order_relaxed);
                if (auto st = r.xsks[k]->statistics()) {
                    r.last_xsk[k] = *st;
                }
                qt.xsk = r.last_xsk[k];
                t.received += qt.received;
                t.received_bytes += r.sources[k]->counters().received_bytes.load(std::memory_order_relaxed);
                add(t.xsk, qt.xsk);
                t.queues.push_back(qt);
            }
            const xcap_rx_counters pc = r.program->counters();
            t.program.seen += pc.seen;
            t.program.redirected += pc.redirected;
            t.program.passed_no_socket += pc.passed_no_socket;
            t.program.too_large += pc.too_large;
            if (r.filter_program) {
                t.filtered = true;
                t.filter_rejected += r.filter_program->counters().rejected;
            }
        }
        add_writer_counts(t, writer);
        return t;
    };

    return run_pipeline(opts, links, signals, writer, files, collect, interface_counts,
                        [&] {
                            for (auto& r : ifs) {
                                r->program->detach();
                            }
                        },
                        log);
}

}  // namespace xcap
