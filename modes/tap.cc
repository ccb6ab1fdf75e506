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
#include "engine/device.h"
#include "filter/filter.h"

namespace xcap {
namespace {

// One interface of a tap capture. Members are destroyed in reverse: the
// filter, then the program (which detaches first).
struct tap_interface {
    device_info dev;
    std::unique_ptr<xdp_takeover> takeover;
    std::unique_ptr<tap_program> program;
    std::unique_ptr<xdp_filter_program> filter_program;
};

class tap_mode final : public capture_mode {
public:
    explicit tap_mode(const capture_options& opts) : _opts(opts), _rings(check(opts)) {
        std::optional<compiled_filter> filter;
        if (!opts.filter.empty()) {
            filter = compile_filter(opts.filter, opts.snaplen);
        }
        for (auto& r : _ifs) {
            r->program = std::make_unique<tap_program>(_rings, opts.snaplen);
            if (filter) {
                load_filter(*r, *filter);
            }
        }
        make_sources();
    }

    std::vector<interface> interfaces() const override {
        std::vector<interface> out;
        for (const auto& r : _ifs) {
            out.push_back({&r->dev, 0});
        }
        return out;
    }

    std::vector<interface_description> describe() const override {
        std::vector<interface_description> out;
        for (const auto& r : _ifs) {
            auto d = describe_interface(r->dev, "XDP tap: copies through BPF ring buffers, every packet passed on",
                                        _opts.snaplen);
            d.filter = _opts.filter;
            out.push_back(d);
        }
        return out;
    }

    std::vector<packet_source*> sources() override { return _srcs; }

    void configure(writer_config& cfg) const override {
        // A head waits for another ring's record in flight only while a
        // quarter of its own ring is still free (backlog() counts 64-byte
        // units).
        cfg.merge_backlog = std::max<size_t>(_rings.bytes_per_cpu() / 64 / 4, 64);
        cfg.filter = _slow_filter.get();
    }

    void attach(const capture_log& log) override {
        if (!_slow_filter_line.empty()) {
            log.warn(_slow_filter_line);
        }
        for (auto& r : _ifs) {
            r->takeover->apply(log.info);
            r->program->attach(r->dev, _opts.mode, r->filter_program ? r->filter_program->fd() : -1);
            log.info(r->dev.name + ": " + to_string(r->program->mode()) + " XDP tap, " +
                     std::to_string(_rings.rings().size()) + " ring buffer" + (_rings.rings().size() == 1 ? "" : "s") +
                     " of " + std::to_string(_rings.bytes_per_cpu() >> 10) +
                     " KiB (one per CPU); packets go on to the stack");
        }
    }

    // Detached, no record is reserved any more; the writer drains what the
    // rings hold (a record reserved just before the detach is committed
    // within the program's run, before the drain's last look).
    void stop_input() override {
        for (auto& r : _ifs) {
            r->program->detach();
        }
    }

    capture_totals collect(const capture_writer& writer) override;
    std::vector<interface_statistics> interface_counts(const capture_totals& t) const override;

private:
    // The checks without side effects, for every interface, before the
    // rings are made; returns the rings' size.
    uint64_t check(const capture_options& opts) {
        for (const auto& name : opts.all_interfaces()) {
            auto& r = *_ifs.emplace_back(std::make_unique<tap_interface>());
            r.dev = probe_device(name);
            require_up(r.dev);
        }
        require_capabilities(capture_capabilities());
        for (auto& r : _ifs) {
            require_linktype(r->dev);
            r->takeover = std::make_unique<xdp_takeover>(r->dev, opts.force);
        }
        return opts.ring_bytes;
    }

    // The tap program takes multi-buffer packets; a tail call needs the same
    // setting on both sides. One too long for XDP runs on the capture thread.
    void load_filter(tap_interface& r, const compiled_filter& filter) {
        if (_slow_filter) {
            return;
        }
        xdp_filter_options fo;
        fo.verbose = _opts.verbose;
        fo.frags = true;
        try {
            r.filter_program = std::make_unique<xdp_filter_program>(filter, fo);
            r.filter_program->set_next(r.program->prog_fd());
        } catch (const filter_too_long& e) {
            _slow_filter = std::make_unique<user_filter>(filter);
            _slow_filter_line = user_space_filter_line(filter, e, true);
        }
    }

    // One source per CPU ring; each record names its interface by ifindex.
    void make_sources() {
        std::vector<std::pair<uint32_t, uint32_t>> index_of;
        for (uint32_t i = 0; i < _ifs.size(); ++i) {
            index_of.emplace_back(_ifs[i]->dev.ifindex, i);
        }
        for (const auto& ring : _rings.rings()) {
            ringbuf_source::options so;
            so.interfaces = index_of;
            const uint32_t cpu = ring.cpu;
            // Losses of this CPU's ring, over every interface's program.
            so.lost = [this, cpu] {
                uint64_t n = 0;
                for (const auto& r : _ifs) {
                    n += r->program->ring_full_on_cpu(cpu);
                }
                return n;
            };
            so.lazy_wake = [this](bool lazy) {
                for (const auto& r : _ifs) {
                    r->program->set_lazy_wake(lazy);
                }
            };
            auto& s = _sources.emplace_back(std::make_unique<ringbuf_source>(ring.fd.get(), so));
            _srcs.push_back(s.get());
        }
    }

    const capture_options& _opts;
    // Destroyed in reverse: sources, programs (detached), rings.
    std::vector<std::unique_ptr<tap_interface>> _ifs;
    tap_rings _rings;
    std::vector<std::unique_ptr<ringbuf_source>> _sources;
    std::vector<packet_source*> _srcs;
    std::unique_ptr<user_filter> _slow_filter;  // the filter where XDP cannot hold it
    std::string _slow_filter_line;
};

capture_totals tap_mode::collect(const capture_writer& writer) {
    capture_totals t;
    t.tap = true;
    for (uint32_t i = 0; i < _ifs.size(); ++i) {
        auto& r = *_ifs[i];
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
    for (const auto& s : _sources) {
        t.received += s->counters().received.load(std::memory_order_relaxed);
        t.received_bytes += s->counters().received_bytes.load(std::memory_order_relaxed);
    }
    add_writer_counts(t, writer);
    return t;
}

// pcapng's statistics blocks: what reached each interface's tap program
// after the filter, and what its rings had no room for.
std::vector<interface_statistics> tap_mode::interface_counts(const capture_totals& t) const {
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
    route_library_logs(opts.verbose);
    tap_mode mode(opts);
    return run_mode(mode, opts, log);
}

}  // namespace xcap
