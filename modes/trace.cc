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
#include "engine/device.h"
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

namespace {

// xcap trace as a capture mode: recording programs (fentry/fexit on the
// user's XDP programs, or an xdpcap hook's slots) write each packet with
// its action into one BPF ring buffer, read by one ring-buffer source. The
// recorders attach when they load, in the constructor; nothing of the
// user's is detached, replaced or reloaded.
class trace_mode final : public capture_mode {
public:
    // `log.info` hears of hook slots emptied that a killed xcap left.
    trace_mode(const trace_options& opts, const capture_log& log)
        : _opts(opts), _co(opts.capture), _snaplen(std::min<uint32_t>(_co.snaplen, XCAP_TRACE_MAX_CAP)) {
        const bool hook = !opts.hook.empty();
        // A bad expression fails first (exit 2), before anything is looked
        // at or loaded; so does one the recorders' interpreter cannot run.
        if (!_co.filter.empty()) {
            _filter = prepare_interpreter(compile_filter(_co.filter, _snaplen), "in xcap trace");
        }
        // Everything that can be checked without side effects comes first.
        if (!_co.interface.empty()) {
            _dev = probe_device(_co.interface);
        }
        require_capabilities(trace_capabilities(hook));
        if (!hook) {
            xdp_programs_found found = find_xdp_programs(*_dev);
            _targets = select_programs(found, opts.program, _dev->name);
            for (const auto& t : _targets) {
                _traced += (_traced.empty() ? "" : ", ") + t.describe();
            }
            if (found.dispatcher) {
                _traced += " behind libxdp's dispatcher";
            }
        } else {
            _traced = "the xdpcap hook " + opts.hook;
        }
        if (_dev) {
            require_linktype(*_dev);
        }
        load_recorders(log);
    }

    std::vector<interface> interfaces() const override {
        // The traced program sees what a capture would: frames for other MACs too.
        return _dev ? std::vector<interface>{{&*_dev, 0}} : std::vector<interface>{};
    }

    std::vector<interface_description> describe() const override {
        interface_description iface;
        iface.name = _dev ? _dev->name : _opts.hook;
        iface.description = "xcap trace of " + _traced + " " + where_traced(_opts);
        iface.linktype = _dev ? linktype_for(_dev->arphrd) : 1;
        iface.snaplen = _snaplen;  // what a record can hold
        iface.filter = _co.filter;  // pcapng's if_filter
        return {iface};
    }

    file_format default_format() const override { return file_format::pcapng; }
    std::vector<packet_source*> sources() override { return {_source.get()}; }

    void configure(writer_config& cfg) const override {
        cfg.merge_backlog = std::max<size_t>(_source->ring_size() / 64 / 4, 64);
    }

    // The recorders are in place since they loaded: say what is traced.
    void attach(const capture_log& log) override {
        const bool hook = !_opts.hook.empty();
        log.info("tracing " + _traced + (_dev ? " on " + _dev->name : std::string()) + " " + where_traced(_opts) +
                 " (" + (hook ? "hook programs" : "fentry/fexit") + "), ring buffer " + size_text(_opts.ring_bytes) +
                 (_filter ? ", filter '" + _co.filter + "' (" + std::to_string(_filter->insns.size()) +
                                " classic instructions, interpreted)"
                          : std::string()));
    }

    // Stop recording first; the writer then drains what the ring holds.
    void stop_input() override {
        _recorder->stop();
    }

    capture_totals collect(const capture_writer& writer) override {
        capture_totals t;
        t.received = _source->counters().received.load(std::memory_order_relaxed);
        t.received_bytes = _source->counters().received_bytes.load(std::memory_order_relaxed);
        // Ring-full losses, for --stats' "ring_full" and the total dropped.
        queue_totals q;
        q.received = t.received;
        q.dropped = lost();
        q.offered = q.received + q.dropped;
        t.queues.push_back(q);
        t.losses = ring_losses(q.dropped);
        add_writer_counts(t, writer);
        if (_filter) {
            // For --stats' "did not match the filter".
            t.filtered = true;
            for (const auto& c : counts()) {
                t.filter_rejected += c.filtered;
            }
        }
        return t;
    }

    const char* thread_name() const override { return "xcap-trace"; }

    // The result of the run: the capture's totals and the programs' own.
    trace_result result(const capture_result& cr) const {
        trace_result r;
        const bool hook = !_opts.hook.empty();
        r.end = cr.end;
        r.output_error = cr.output_error;
        r.output_name = cr.output_name;
        r.totals.capture = cr.totals;
        r.totals.programs = counts();
        r.totals.hook = hook;
        r.totals.at_entry = hook ? false : _opts.at_entry;
        r.totals.at_exit = hook ? true : _opts.at_exit;
        r.totals.ring_bytes = _source->ring_size();
        r.totals.filtered = _filter.has_value();
        return r;
    }

private:
    void load_recorders(const capture_log& log) {
        recorder_options ro;
        ro.snaplen = _snaplen;
        ro.filter = _filter ? &*_filter : nullptr;
        ro.ring_bytes = _opts.ring_bytes;
        ro.entry = _opts.at_entry;
        ro.exit = _opts.at_exit;
        ro.force = _co.force;
        ro.verbose = _co.verbose;
        if (!_opts.hook.empty()) {
            _recorder = std::make_unique<hook_recorder>(_opts.hook, ro, log.info);
        } else {
            _recorder = std::make_unique<fentry_recorder>(_targets, ro);
        }
        ringbuf_source::options so;
        if (_dev) {
            so.interfaces.push_back({_dev->ifindex, 0});
        }
        so.lost = [this] { return lost(); };
        _source = std::make_unique<ringbuf_source>(_recorder->ring_fd(), so);
        for (const auto& t : _targets) {
            _source->name_program(t.id, t.describe());
        }
        if (!_opts.hook.empty()) {
            _source->name_program(0, "hook " + _opts.hook);
        }
    }

    std::vector<program_counts> counts() const { return _recorder->counts(); }

    uint64_t lost() const {
        uint64_t n = 0;
        for (const auto& c : counts()) {
            n += c.ring_full;
        }
        return n;
    }

    const trace_options& _opts;
    const capture_options& _co;
    const uint32_t _snaplen;
    std::optional<interpreter_program> _filter;
    std::optional<device_info> _dev;
    std::vector<xdp_program_ref> _targets;
    std::string _traced;  // for the lines and the file's interface description
    // Destroyed in reverse: the source, then the recorders.
    std::unique_ptr<trace_recorder> _recorder;
    std::unique_ptr<ringbuf_source> _source;
};

}  // namespace

trace_result run_trace(const trace_options& opts, const capture_log& log) {
    route_library_logs(opts.capture.verbose);
    trace_mode mode(opts, log);
    return mode.result(run_mode(mode, opts.capture, log));
}

}  // namespace xcap
