// Tap mode: the XDP program on each interface copies every packet (that the
// filter matches) into the ring buffer of its CPU and passes it on; one
// ringbuf_source per CPU ring feeds the same writer, files, summary and exit
// codes as redirect mode.
#include <algorithm>
#include <cstring>
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
#include "filter/interpreter.h"

namespace xcap {
namespace {

// One interface of a tap capture: its program and its egress program,
// destroyed in reverse (each detaching first), then xdp_interface's.
struct tap_interface : xdp_interface {
    std::unique_ptr<tap_program> program;
    std::unique_ptr<tap_egress> egress;
};

class tap_mode final : public capture_mode {
public:
    explicit tap_mode(const capture_options& opts)
        : _opts(opts),
          _direction(opts.direction.value_or(capture_direction::inout)),
          _ifs(check_interfaces<tap_interface>(opts)),
          _filter(opts, true),
          _rings(opts.ring_bytes) {
        for (auto& r : _ifs) {
            r->nic = std::make_unique<nic_front>(r->dev, opts);
            r->program = std::make_unique<tap_program>(_rings, opts.snaplen, r->nic->link());
            // The tap program takes multi-buffer packets.
            r->nic->load(true);
            r->filter_program = _filter.load(r->program->prog_fd(), true, r->nic->untag_fd());
            r->nic->chain(r->filter_program ? r->filter_program->fd() : r->program->prog_fd());
        }
        if (_direction != capture_direction::in) {
            make_egress();
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
            auto d = describe_interface(
                r->dev, "XDP tap: copies through BPF ring buffers, every packet passed on" + clock_note(_opts),
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
        cfg.filter = _filter.in_user_space();
    }

    void attach(const capture_log& log) override {
        _filter.warn(log);
        if (!_egress_line.empty()) {
            log.warn(_egress_line);
        }
        for (auto& r : _ifs) {
            if (r->egress) {
                attach_egress(*r, log);
            }
            if (_direction == capture_direction::out) {
                continue;
            }
            r->takeover->apply(log.info);
            r->nic->attach([&r](int fd, xdp_mode m) { r->program->attach(r->dev, m, fd); },
                           r->filter_program ? r->filter_program->fd() : r->program->prog_fd(), _opts.mode, log);
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
            if (r->egress) {
                r->egress->detach();
            }
        }
    }

    capture_totals collect(const capture_writer& writer) override;

private:
    // Egress through tcx (Linux 6.6+). Without it: received packets only,
    // said in one line, unless -Q out asked for sent ones alone.
    void attach_egress(tap_interface& r, const capture_log& log) {
        if (int err = r.egress->attach(r.dev.ifindex)) {
            r.egress.reset();
            const std::string why = r.dev.name + ": cannot attach to the egress (tcx, Linux 6.6 and later): " +
                                    std::strerror(err);
            if (_direction == capture_direction::out) {
                throw failure(failure_kind::unsupported, err, why, "capture received packets (-Q in) instead");
            }
            log.warn("warning: " + why + "; only received packets are captured");
            return;
        }
        log.info(r.dev.name + ": tcx egress tap; sent packets are recorded too");
    }

    // The egress programs. The filter runs there in the classic
    // interpreter; where the capture thread runs it (too long for XDP) it
    // sees the sent packets too, and where the interpreter refuses it, sent
    // packets are not captured (said at attach; refused with -Q out).
    void make_egress() {
        std::optional<interpreter_program> classic;
        if (_filter.compiled() && !_filter.in_user_space()) {
            try {
                classic = prepare_interpreter(*_filter.compiled(), "on --tap's egress");
            } catch (const failure& e) {
                if (_direction == capture_direction::out) {
                    throw;
                }
                _egress_line = "warning: " + std::string(e.what()) + "; only received packets are captured";
                return;
            }
        }
        for (auto& r : _ifs) {
            r->egress = std::make_unique<tap_egress>(_rings, _opts.snaplen, classic ? &*classic : nullptr);
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
                    n += r->egress ? r->egress->ring_full_on_cpu(cpu) : 0;
                }
                return n;
            };
            so.lazy_wake = [this](bool lazy) {
                for (const auto& r : _ifs) {
                    r->program->set_lazy_wake(lazy);
                    if (r->egress) {
                        r->egress->set_lazy_wake(lazy);
                    }
                }
            };
            auto& s = _sources.emplace_back(std::make_unique<ringbuf_source>(ring.fd.get(), so));
            _srcs.push_back(s.get());
        }
    }

    const capture_options& _opts;
    capture_direction _direction;
    std::string _egress_line;  // why sent packets are not captured, when they are not
    // Destroyed in reverse: sources, programs (detached), rings.
    std::vector<std::unique_ptr<tap_interface>> _ifs;
    filter_stage _filter;
    tap_rings _rings;
    std::vector<std::unique_ptr<ringbuf_source>> _sources;
    std::vector<packet_source*> _srcs;
};

capture_totals tap_mode::collect(const capture_writer& writer) {
    capture_totals t;
    xcap_ring_counters sum{};
    for (uint32_t i = 0; i < _ifs.size(); ++i) {
        auto& r = *_ifs[i];
        t.interfaces.push_back(r.dev.name);
        const auto per_queue = r.program->counters(r.dev.rx_queues);
        for (uint32_t q = 0; q < per_queue.size(); ++q) {
            queue_totals qt;
            qt.interface = i;
            qt.queue = q;
            qt.received = per_queue[q].recorded;
            qt.offered = per_queue[q].seen;  // after the filter
            qt.dropped = per_queue[q].ring_full;
            sum.seen += per_queue[q].seen;
            sum.recorded += per_queue[q].recorded;
            sum.ring_full += per_queue[q].ring_full;
            t.queues.push_back(qt);
        }
        if (r.egress && !t.queues.empty()) {
            // Sent packets count on the interface's first queue.
            const xcap_ring_counters e = r.egress->counters();
            queue_totals& qt = t.queues[t.queues.size() - per_queue.size()];
            qt.received += e.recorded;
            qt.offered += e.seen - e.filtered;
            qt.dropped += e.ring_full;
            sum.seen += e.seen - e.filtered;
            sum.recorded += e.recorded;
            sum.ring_full += e.ring_full;
            t.filter_rejected += e.filtered;
        }
        add_filter_counts(t, r);
    }
    for (const auto& s : _sources) {
        t.received += s->counters().received.load(std::memory_order_relaxed);
        t.received_bytes += s->counters().received_bytes.load(std::memory_order_relaxed);
    }
    t.losses = ring_losses(sum.ring_full);
    t.program_lines = {tap_program_line(sum, t.filtered, t.filter_rejected)};
    return finish_totals(t, _ifs, writer);
}

}  // namespace

capture_result run_tap(const capture_options& opts, const capture_log& log) {
    return run_mode_of<tap_mode>(opts, log);
}

}  // namespace xcap
