#include "modes/capture.h"

#include <bpf/bpf.h>

#include <cerrno>
#include <memory>

#include "engine/caps.h"
#include "engine/device.h"
#include "engine/host_use.h"
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

void add(xdp_statistics& a, const xdp_statistics& b) {
    a.rx_dropped += b.rx_dropped;
    a.rx_invalid_descs += b.rx_invalid_descs;
    a.tx_invalid_descs += b.tx_invalid_descs;
    a.rx_ring_full += b.rx_ring_full;
    a.rx_fill_ring_empty_descs += b.rx_fill_ring_empty_descs;
    a.tx_ring_empty_descs += b.tx_ring_empty_descs;
}

}  // namespace

namespace {

// One interface of a redirect capture: its program, sockets and sources.
// Members are destroyed in reverse: sources, sockets, program (detached),
// then xdp_interface's.
struct redirect_interface : xdp_interface {
    std::vector<uint32_t> queues;
    std::unique_ptr<rx_program> program;
    std::vector<std::unique_ptr<xsk_queue>> xsks;
    std::vector<std::unique_ptr<xsk_source>> sources;
    std::vector<xdp_statistics> last_xsk;  // the last statistics each socket gave: a failed read keeps them
    uint32_t frame_limit = 0;              // bytes a socket takes per packet; 0 = any (multi-buffer)
    std::string limit_line;                // said once at start when frame_limit is below the MTU's frames
};

// AF_XDP redirect: an XDP program per interface sends each packet (that
// the filter matches) to the AF_XDP socket of its queue; the host's stack
// sees none of them.
class redirect_mode final : public capture_mode {
public:
    // The checks first (a bad --queues is exit 2 before a foreign program's
    // exit 6), then the filter (exit 2), then the loads.
    explicit redirect_mode(const capture_options& opts)
        : _opts(opts),
          _ifs(check_interfaces<redirect_interface>(
              opts, [&opts](redirect_interface& r) { r.queues = choose_queues(opts, r.dev); })),
          _filter(opts, false) {
        const bool multi_buffer = xsk_multibuffer_supported();
        for (uint32_t i = 0; i < _ifs.size(); ++i) {
            auto& r = *_ifs[i];
            r.nic = std::make_unique<nic_front>(r.dev, opts);
            open_sockets(i, multi_buffer);
            r.nic->load(r.program->frags());
            // What does not match goes on to the stack (without a tag the
            // entry program put in).
            r.filter_program = _filter.load(r.program->prog_fd(), r.program->frags(), r.nic->untag_fd());
            r.nic->chain(r.filter_program ? r.filter_program->fd() : r.program->prog_fd());
        }
    }

    std::vector<interface> interfaces() const override {
        std::vector<interface> out;
        for (const auto& r : _ifs) {
            out.push_back({&r->dev, r->frame_limit});
        }
        return out;
    }

    std::vector<interface_description> describe() const override {
        std::vector<interface_description> out;
        for (const auto& r : _ifs) {
            std::string list;
            for (uint32_t q : r->queues) {
                list += (list.empty() ? "" : ",") + std::to_string(q);
            }
            auto d = describe_interface(
                r->dev, "AF_XDP capture of RX queue" + std::string(r->queues.size() == 1 ? " " : "s ") + list + clock_note(_opts),
                _opts.snaplen);
            d.filter = _opts.filter;  // pcapng's if_filter
            out.push_back(d);
        }
        return out;
    }

    std::vector<packet_source*> sources() override { return _srcs; }

    void configure(writer_config& cfg) const override {
        cfg.merge_backlog = std::max<size_t>(_fewest_frames / 4, 64);
        // The writer wakes when a queue has a quarter of its frames in use,
        // in packets of the largest frame any interface takes (a jumbo frame
        // spans several), or after 100 ms.
        cfg.wake_batch = std::max<uint32_t>(_fewest_frames / 4 / _frames_per_packet, 1);
        cfg.filter = _filter.in_user_space();
    }

    void attach(const capture_log& log) override {
        _filter.warn(log);
        for (auto& r : _ifs) {
            r->takeover->apply(log.info);
            r->nic->attach([&r](int fd, xdp_mode m) { r->program->attach(r->dev, m, fd); },
                           r->filter_program ? r->filter_program->fd() : r->program->prog_fd(), _opts.mode, log);
            for (const auto& x : r->xsks) {
                log.info(r->dev.name + " queue " + std::to_string(x->queue()) + ": " + to_string(r->program->mode()) +
                         " XDP, " + (x->zero_copy() ? "zero-copy" : "copy") + " mode" +
                         (x->multi_buffer() ? ", multi-buffer" : "") + ", " +
                         std::to_string(x->config().frame_count) + " frames of " +
                         std::to_string(x->config().frame_size / 1024) + " KiB");
            }
            if (!r->limit_line.empty()) {
                log.warn(r->limit_line);
            }
            if (_opts.verbose && r->program->meta_in_frame()) {
                log.info(r->dev.name + ": this kernel refuses XDP programs the metadata area "
                         "(bpf_xdp_adjust_meta), so each packet's time stamp travels in the first " +
                         std::to_string(sizeof(xcap_meta)) + " bytes of its frame");
            }
        }
        // Attached: from now on the host sees none of these interfaces' packets.
        for (const auto& r : _ifs) {
            if (std::string why = host_use(r->dev.name); !why.empty()) {
                log.warn("warning: " + r->dev.name + " " + why +
                         ": the host's own traffic on it stops while xcap runs " +
                         "(every packet goes to xcap); --tap captures a copy and lets it through");
            }
        }
    }

    void stop_input() override {
        for (auto& r : _ifs) {
            r->program->detach();
        }
    }

    capture_totals collect(const capture_writer& writer) override;

private:
    void open_sockets(uint32_t i, bool multi_buffer);

    const capture_options& _opts;
    std::vector<std::unique_ptr<redirect_interface>> _ifs;
    filter_stage _filter;
    std::vector<packet_source*> _srcs;
    uint32_t _fewest_frames = UINT32_MAX;  // of any queue
    uint32_t _frames_per_packet = 1;       // the most one packet of the largest frame takes, anywhere
};

// Jumbo frames: multi-buffer sockets and a frags program where the kernel
// has them (sources/frame_limit.h for where it does not).
void redirect_mode::open_sockets(uint32_t i, bool multi_buffer) {
    auto& r = *_ifs[i];
    r.program = std::make_unique<rx_program>(multi_buffer, r.nic->link());
    // Where the metadata travels in the frame, it takes room from the packet.
    const uint32_t prefix = r.program->meta_in_frame() ? uint32_t(sizeof(xcap_meta)) : 0;
    const uint32_t largest = largest_frame(r.dev, r.dev.mtu) + prefix;
    xsk_config icfg;
    icfg.frame_size = umem_frame_size(largest, r.program->frags());
    icfg.frame_count = umem_frames(_opts.buffer_kib, icfg.frame_size);
    _fewest_frames = std::min(_fewest_frames, icfg.frame_count);
    const uint32_t room = icfg.frame_size - xsk_rx_headroom;
    _frames_per_packet = std::max(_frames_per_packet, (largest + room - 1) / room);
    icfg.multi_buffer = r.program->frags();
    icfg.prefer_multi_buffer = largest > room;
    for (uint32_t q : r.queues) {
        auto& x = r.xsks.emplace_back(std::make_unique<xsk_queue>(r.dev.name, q, icfg, _opts.bind));
        int fd = x->fd();
        if (bpf_map_update_elem(r.program->xsks_map_fd(), &q, &fd, 0) != 0) {
            throw failure(failure_kind::runtime, errno,
                          "cannot register the socket of " + r.dev.name + " queue " + std::to_string(q));
        }
        auto& src = r.sources.emplace_back(std::make_unique<xsk_source>(*x, r.program->issued_counter(q)));
        src->set_interface(i);
        src->set_meta_in_frame(prefix != 0);
        src->set_doorbell(r.program->wake_at(q), r.program.get());
        _srcs.push_back(src.get());
    }
    r.last_xsk.resize(r.xsks.size());
    for (const auto& x : r.xsks) {
        r.frame_limit = x->multi_buffer() ? r.frame_limit : room - prefix;
    }
    r.program->set_max_len(r.frame_limit);
    r.limit_line = check_frame_limit(r.dev, r.frame_limit,
                                     r.program->frags() ? frame_limit_cause::driver : frame_limit_cause::kernel,
                                     _opts.mode);
}

capture_totals redirect_mode::collect(const capture_writer& writer) {
    capture_totals t;
    xdp_statistics sum{};
    xcap_rx_counters program{};
    bool overlap = false;
    for (uint32_t i = 0; i < _ifs.size(); ++i) {
        auto& r = *_ifs[i];
        t.interfaces.push_back(r.dev.name);
        for (size_t k = 0; k < r.xsks.size(); ++k) {
            if (auto st = r.xsks[k]->statistics()) {
                r.last_xsk[k] = *st;
            }
            const xdp_statistics& st = r.last_xsk[k];
            const bool zero_copy = r.xsks[k]->zero_copy();
            queue_totals qt;
            qt.interface = i;
            qt.queue = r.xsks[k]->queue();
            qt.received = r.sources[k]->counters().received.load(std::memory_order_relaxed);
            qt.dropped = xsk_drops(st, zero_copy);
            qt.offered = qt.received + qt.dropped;
            t.received += qt.received;
            t.received_bytes += r.sources[k]->counters().received_bytes.load(std::memory_order_relaxed);
            add(sum, st);
            overlap = overlap || (!zero_copy && st.rx_fill_ring_empty_descs > 0);
            t.queues.push_back(qt);
        }
        const xcap_rx_counters pc = r.program->counters();
        program.seen += pc.seen;
        program.redirected += pc.redirected;
        program.passed_no_socket += pc.passed_no_socket;
        program.too_large += pc.too_large;
        program.no_headroom += pc.no_headroom;
        add_filter_counts(t, r);
    }
    t.dropped_elsewhere = program.too_large + program.no_headroom;
    t.losses = socket_losses(sum, program.too_large, program.no_headroom);
    t.program_lines = redirect_program_lines(program, overlap, t.filtered, t.filter_rejected);
    return finish_totals(t, _ifs, writer);
}

}  // namespace

capture_result run_capture(const capture_options& opts, const capture_log& log) {
    return run_mode_of<redirect_mode>(opts, log);
}

}  // namespace xcap
