#include "capture/capture.h"

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
#include "engine/link_monitor.h"
#include "engine/signals.h"
#include "filter/filter.h"
#include "common/error.h"
#include "pcap/savefile.h"
#include "capture/frame_limit.h"
#include "capture/pipeline.h"
#include "capture/rx_program.h"
#include "capture/xsk_source.h"
#include "capture/writer.h"

namespace xcap {
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

interface_description describe_interface(const device_info& dev, const std::vector<uint32_t>& queues,
                                          uint32_t snaplen) {
    interface_description d;
    d.name = dev.name;
    std::string list;
    for (uint32_t q : queues) {
        list += (list.empty() ? "" : ",") + std::to_string(q);
    }
    d.description = "AF_XDP capture of RX queue" + std::string(queues.size() == 1 ? " " : "s ") + list;
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

// For pcapng's statistics block: packets that reached the sockets (received
// by xcap or dropped by the kernel on the way), and all drops.
std::vector<interface_statistics> interface_counts(const capture_totals& t) {
    interface_statistics st;
    st.received = t.received + t.dropped() - t.write_errors;
    st.dropped = t.dropped();
    return {st};
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

capture_result run_capture(const capture_options& opts, const capture_log& log) {
    const auto& info = log.info;
    route_library_logs(opts.verbose);

    // Everything that can be checked without side effects comes first.
    device_info dev = probe_device(opts.interface);
    require_up(dev);
    require_capabilities(capture_capabilities());
    std::vector<uint32_t> queues = choose_queues(opts, dev);
    if (linktype_for(dev.arphrd) == 0) {
        throw failure(failure_kind::unsupported, dev.name + " has link type ARPHRD " + std::to_string(dev.arphrd) +
                                                     ", which xcap cannot label in a capture file",
                      "xcap captures Ethernet, loopback and IP-only (tun, ipip, gre, wireguard) interfaces");
    }
    xdp_takeover takeover(dev, opts.force);
    // A bad expression fails here (exit 2), before anything is set up.
    std::optional<compiled_filter> filter;
    if (!opts.filter.empty()) {
        filter = compile_filter(opts.filter, opts.snaplen);
    }

    // The output is opened before anything is attached, so an unwritable
    // path fails with nothing to undo.
    savefile_config fcfg;
    fcfg.path = opts.output_path;
    fcfg.format = opts.format.value_or(format_for_path(opts.output_path));
    fcfg.nanosecond = opts.nanosecond;
    fcfg.rotate_bytes = opts.rotate_bytes;
    fcfg.rotate_seconds = opts.rotate_seconds;
    fcfg.max_files = opts.max_files;
    fcfg.post_rotate = opts.post_rotate;
    fcfg.packet_buffered = opts.packet_buffered;
    fcfg.post_rotate_report = [&](const post_rotate_failure& f) { log.warn(f.message()); };
    interface_description iface = describe_interface(dev, queues, opts.snaplen);
    iface.filter = opts.filter;  // pcapng's if_filter
    savefile_set files(fcfg, describe_section(), {iface});

    // Destruction order is the reverse: threads, then sockets, then program.
    // Jumbo frames: multi-buffer sockets and a frags program where the
    // kernel has them (capture/frame_limit.h for where it does not).
    const bool multi_buffer = xsk_multibuffer_supported();
    rx_program program(multi_buffer);
    std::vector<std::unique_ptr<xsk_queue>> xsks;
    std::vector<std::unique_ptr<xsk_source>> sources;
    xsk_config cfg;
    cfg.frame_count = opts.frames_per_queue;
    cfg.multi_buffer = program.frags();
    cfg.prefer_multi_buffer = largest_frame(dev, dev.mtu) > cfg.frame_size - xsk_rx_headroom;
    for (uint32_t q : queues) {
        auto& x = xsks.emplace_back(std::make_unique<xsk_queue>(dev.name, q, cfg, opts.bind));
        int fd = x->fd();
        if (bpf_map_update_elem(program.xsks_map_fd(), &q, &fd, 0) != 0) {
            throw failure(failure_kind::runtime, errno, "cannot register the socket of queue " + std::to_string(q));
        }
        sources.emplace_back(std::make_unique<xsk_source>(*x, program.issued_counter(q)));
    }
    uint32_t frame_limit = 0;  // bytes a socket takes per packet; 0 = any (multi-buffer)
    for (const auto& x : xsks) {
        frame_limit = x->multi_buffer() ? frame_limit : cfg.frame_size - xsk_rx_headroom;
    }
    program.set_max_len(frame_limit);
    const std::string limit_line = check_frame_limit(
        dev, frame_limit, program.frags() ? frame_limit_cause::driver : frame_limit_cause::kernel, opts.mode);
    // With a filter, its program runs first and tail-calls the capture
    // program on a match; what does not match goes on to the stack.
    std::unique_ptr<xdp_filter_program> filter_program;
    if (filter) {
        xdp_filter_options fo;
        fo.verbose = opts.verbose;
        fo.frags = program.frags();  // a tail call needs the same setting
        filter_program = std::make_unique<xdp_filter_program>(*filter, fo);
        filter_program->set_next(program.prog_fd());
    }
    takeover.apply(info);
    program.attach(dev, opts.mode, filter_program ? filter_program->fd() : -1);
    for (const auto& x : xsks) {
        info(dev.name + " queue " + std::to_string(x->queue()) + ": " + to_string(program.mode()) + " XDP, " +
             (x->zero_copy() ? "zero-copy" : "copy") + " mode" + (x->multi_buffer() ? ", multi-buffer" : ""));
    }
    if (!limit_line.empty()) {
        log.warn(limit_line);
    }

    // Taken by this thread only; the capture threads inherit the mask.
    stop_signals signals;
    link_monitor monitor(dev.ifindex);

    writer_config wcfg;
    wcfg.count_limit = opts.count;
    wcfg.realtime_offset_ns = measure_clock_offset().realtime_minus_monotonic_ns;
    wcfg.flush_when_idle = files.is_stream();
    wcfg.merge_backlog = std::max<size_t>(cfg.frame_count / 4, 64);
    std::vector<packet_source*> srcs;
    for (auto& s : sources) {
        srcs.push_back(s.get());
    }
    capture_writer writer(srcs, files, wcfg);

    // The last statistics each socket gave: a failed read keeps them.
    std::vector<xdp_statistics> last_xsk(xsks.size());
    std::function<capture_totals()> collect = [&] {
        capture_totals t;
        for (size_t i = 0; i < xsks.size(); ++i) {
            queue_totals qt;
            qt.queue = xsks[i]->queue();
            qt.zero_copy = xsks[i]->zero_copy();
            qt.received = sources[i]->counters().received.load(std::memory_order_relaxed);
            if (auto st = xsks[i]->statistics()) {
                last_xsk[i] = *st;
            }
            qt.xsk = last_xsk[i];
            t.received += qt.received;
            t.received_bytes += sources[i]->counters().received_bytes.load(std::memory_order_relaxed);
            add(t.xsk, qt.xsk);
            t.queues.push_back(qt);
        }
        const auto& w = writer.counters();
        t.written = w.written.load(std::memory_order_relaxed);
        t.written_bytes = w.written_bytes.load(std::memory_order_relaxed);
        t.snaplen_cut = w.snaplen_cut.load(std::memory_order_relaxed);
        t.write_errors = w.write_errors.load(std::memory_order_relaxed);
        t.over_limit = w.over_limit.load(std::memory_order_relaxed);
        t.meta_missing = w.meta_missing.load(std::memory_order_relaxed);
        t.program = program.counters();
        if (filter_program) {
            t.filtered = true;
            t.filter_rejected = filter_program->counters().rejected;
        }
        return t;
    };

    // Rotated pcapng files end with the counts so far. Called on the writer
    // thread; reads only counters and the sockets' statistics.
    files.set_statistics_source([&] { return interface_counts(collect()); });

    const int64_t start = monotonic_ns();
    capture_result result;
    {
        capture_thread ct;
        ct.thread = start_thread("xcap-capture", -1, [&] { writer.run(ct.stop); });

        result.end = supervise(opts, dev, signals, monitor, writer, files, collect, log, start, frame_limit);

        // Stop receiving first, then drain: the capture thread empties the
        // RX rings and flushes.
        program.detach();
        ct.stop_and_join();
    }
    result.totals = collect();
    result.totals.seconds = double(monotonic_ns() - start) / 1e9;
    finish_output(files, signals, result, log, [&] { return interface_counts(result.totals); });
    return result;
}

}  // namespace xcap
