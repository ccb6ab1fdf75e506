#include "replay/socket_sender.h"

#include <algorithm>
#include <cstring>
#include <exception>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "common/error.h"
#include "engine/clock.h"
#include "engine/cpu.h"
#include "engine/signals.h"
#include "engine/xdp_attach.h"
#include "engine/xsk.h"
#include "replay/pass_program.h"
#include "replay/plan.h"
#include "replay/schedule.h"
#include "replay/stream_reader.h"
#include "replay/tx_worker.h"

namespace xcap {
namespace {

constexpr uint32_t stream_frames = 4096;

// One run through the sockets. Members are declared in the order they are
// set up, so they are torn down sockets first, then the program; the
// destructor first stops and joins every thread still running.
class socket_sender {
public:
    explicit socket_sender(const replay_run& run);
    ~socket_sender();
    socket_sender(const socket_sender&) = delete;
    socket_sender& operator=(const socket_sender&) = delete;

    replay_result run();

private:
    bool plan();
    void open_sockets();
    void load_tables();
    void send();
    void supervise(const stop_signals& signals, progress_meter& meter);
    void stop_workers();
    void collect();

    const replay_run& _run;
    replay_result _result;
    // Jumbo frames: a frame longer than a UMEM frame goes out as several
    // descriptors (XDP_PKT_CONTD) where the kernel's AF_XDP has multi-buffer.
    const uint32_t _frame_size;
    const bool _multi_buffer;
    const classifier _proto;  // counts into _result.totals
    preload_plan _plan;
    std::exception_ptr _read_failure;
    std::optional<xdp_takeover> _takeover;
    std::unique_ptr<pass_program> _program;  // only with --xdp-mode
    std::vector<std::unique_ptr<xsk_queue>> _xsks;
    tx_shared _shared;
    std::vector<std::vector<tx_item>> _tables;  // preloaded
    std::unique_ptr<stream_reader> _reader;     // streamed
    uint64_t _planned = 0;                      // packets in the tables
    std::vector<std::unique_ptr<tx_queue_state>> _states;
    std::vector<std::thread> _workers;
    std::optional<interface_drops> _drops;
};

socket_sender::socket_sender(const replay_run& run)
    : _run(run),
      _frame_size(run.dev.mtu + 18 <= 2048 ? 2048 : 4096),
      _multi_buffer(run.dev.mtu + 18 > _frame_size && xsk_multibuffer_supported()),
      _proto{run.dev.mtu + 14, _multi_buffer ? run.dev.mtu + 18 : _frame_size, _frame_size, _result.totals},
      _tables(run.opts.queues) {
    replay_totals& t = _result.totals;
    t.paced = run.opts.pace.mode != pace_mode::topspeed;
    t.max_frame = run.dev.mtu + 14;
    t.frame_limit = _multi_buffer || t.max_frame + 4 <= _frame_size ? 0 : _frame_size;
    _shared.loops = run.opts.loops;
    _shared.budget = run.opts.limit ? int64_t(run.opts.limit) : -1;
}

socket_sender::~socket_sender() { stop_workers(); }

replay_result socket_sender::run() {
    if (_run.opts.attach) {
        _takeover.emplace(_run.dev, _run.opts.force, "leave out --xdp-mode, remove it, or pass --force");
    }
    if (!plan()) {
        return std::move(_result);
    }
    open_sockets();
    if (_plan.preload) {
        load_tables();
    } else {
        _reader = std::make_unique<stream_reader>(_run.opts, _run.input, _proto, _result.totals, _xsks, _shared);
    }
    send();
    collect();
    return std::move(_result);
}

// False when the preloaded file holds no packet to send.
bool socket_sender::plan() {
    replay_totals& t = _result.totals;
    _plan = plan_preload(_run.opts, _run.input, _proto, _read_failure);
    t.preloaded = _plan.preload;
    if (!_plan.preload) {
        return true;
    }
    t.file_packets = _plan.readable;
    if (_plan.readable != 0) {
        return true;
    }
    if (_read_failure) {
        std::rethrow_exception(_read_failure);  // not one whole packet: nothing to send
    }
    _result.empty = true;
    return false;
}

void socket_sender::open_sockets() {
    if (_run.opts.attach) {
        _program = std::make_unique<pass_program>();
    }
    for (uint32_t q = 0; q < _run.opts.queues; ++q) {
        xsk_config cfg;
        cfg.direction = xsk_direction::tx;
        cfg.frame_size = _frame_size;
        cfg.frame_count = _plan.preload ? _plan.frames[q] : stream_frames;
        cfg.multi_buffer = _multi_buffer;
        cfg.prefer_multi_buffer = _multi_buffer;
        _xsks.emplace_back(std::make_unique<xsk_queue>(_run.dev.name, q, cfg, _run.opts.bind));
        if (_multi_buffer && !_xsks.back()->multi_buffer()) {
            // A zero-copy driver without multi-buffer: say so rather than send nothing.
            throw failure(failure_kind::unsupported,
                          _run.dev.name + ": MTU " + std::to_string(_run.dev.mtu) +
                              " needs multi-buffer AF_XDP sends, which the driver's zero-copy mode lacks",
                          "use --bind copy");
        }
    }
    if (_program) {
        _takeover->apply(_run.log.info);
        _program->attach(_run.dev, *_run.opts.attach);
    }
    for (const auto& x : _xsks) {
        _run.log.info(_run.dev.name + " TX queue " + std::to_string(x->queue()) + ": " +
                  (x->zero_copy() ? "zero-copy" : "copy") + " mode" + (x->multi_buffer() ? ", multi-buffer" : "") +
                  (_program ? std::string(", ") + to_string(_program->mode()) + " XDP program attached" : ""));
    }
}

// Copies the file's packets into the queues' UMEMs and lists them with their
// due times in the first loop.
void socket_sender::load_tables() {
    replay_totals scratch;  // the counts were taken by the planning pass
    classifier classify = _proto.counting_into(scratch);
    schedule_builder sched(_run.opts.pace);
    std::vector<packer> place(_run.opts.queues, packer{_proto.chunk});
    std::exception_ptr ignored;  // the planning pass kept it
    read_pass(_run.input, _plan.readable, nullptr, ignored, [&](const read_packet& p, uint64_t n) {
        if (uint32_t bytes = classify(p, n)) {
            uint32_t q = flow_queue(p.data, p.caplen, _run.opts.queues);
            uint64_t addr = place[q].place(bytes);
            std::memcpy(_xsks[q]->area() + addr, p.data, bytes);
            _tables[q].push_back(tx_item{addr, bytes, 0, sched.next(p.ts_ns, bytes)});
        }
        return true;
    });
    _shared.loop_period_ns = sched.loop_period_ns();
    for (const auto& table : _tables) {
        _planned += table.size();
    }
    if (_planned == 0) {
        tell_nothing_to_send(_run.opts, _plan.readable, _run.log);
    }
    tell_skipped(_result.totals, _run.dev, _run.log);
}

void socket_sender::send() {
    stop_signals signals;
    for (uint32_t q = 0; q < _run.opts.queues; ++q) {
        auto s = std::make_unique<tx_queue_state>();
        s->xsk = _xsks[q].get();
        if (_reader) {
            _reader->connect(*s, q);
        } else {
            s->table = &_tables[q];
        }
        _states.push_back(std::move(s));
    }
    _run.carrier.before_sending(_run.log);
    _drops.emplace(_run.dev.ifindex);
    progress_meter meter(_run.opts, _planned, _run.log);
    _shared.start_ns = monotonic_ns() + 1'000'000;  // 1 ms for the threads to start
    if (_reader) {
        _reader->start();
    }
    const std::vector<int> cpus = allowed_cpus();
    for (uint32_t q = 0; q < _run.opts.queues; ++q) {
        _workers.push_back(start_thread("xcap-tx" + std::to_string(q), cpus[cpus.size() - 1 - q % cpus.size()],
                                        [this, q] { run_tx_worker(*_states[q], _shared); }));
    }
    supervise(signals, meter);
    stop_workers();
    if (_reader) {
        _read_failure = _reader->error();
    }
    meter.clear();
    if (_program) {
        _program->detach();
    }
}

// This thread while the workers send: signals, --duration, the progress line.
void socket_sender::supervise(const stop_signals& signals, progress_meter& meter) {
    const int64_t deadline = _run.opts.duration_s > 0 ? _shared.start_ns + int64_t(_run.opts.duration_s * 1e9) : 0;
    auto all_done = [&] {
        return std::all_of(_states.begin(), _states.end(),
                           [](const auto& s) { return s->done.load(std::memory_order_acquire); });
    };
    while (!all_done()) {
        int64_t tick = 50'000'000;
        if (deadline) {
            tick = std::clamp<int64_t>(deadline - monotonic_ns(), 0, tick);
        }
        if (signals.wait(tick)) {
            _result.interrupted = true;
            _shared.stop_all();
        }
        const int64_t now = monotonic_ns();
        if (deadline && now >= deadline) {
            _shared.stop_all();  // a hard deadline: every wait ends now
        }
        if (meter.due(now)) {
            uint64_t sent = 0;
            for (const auto& s : _states) {
                sent += s->completed.load(std::memory_order_relaxed);
            }
            meter.report(now, sent);
        }
    }
}

// Ends every wait of every thread and joins the workers, then the reader.
void socket_sender::stop_workers() {
    _shared.stop_all();
    for (auto& worker : _workers) {
        if (worker.joinable()) {
            worker.join();
        }
    }
    if (_reader) {
        _reader->join();
    }
}

void socket_sender::collect() {
    replay_totals& t = _result.totals;
    // The achieved rate is over the sending itself: from the schedule's start
    // to the last packet handed to the kernel.
    int64_t last = 0;
    for (const auto& s : _states) {
        last = std::max(last, s->last_send_ns);
    }
    t.seconds = double(last) / 1e9;
    for (uint32_t q = 0; q < _run.opts.queues; ++q) {
        replay_queue_totals qt;
        qt.queue = q;
        qt.zero_copy = _xsks[q]->zero_copy();
        qt.sent = _states[q]->completed.load();
        qt.xsk = _xsks[q]->statistics().value_or(xdp_statistics{});
        t.sent += qt.sent;
        t.sent_bytes += _states[q]->submitted_bytes.load();
        t.errors.merge(_states[q]->errors);
        t.queues.push_back(qt);
    }
    _drops->settle(t);
    keep_input_error(_read_failure, _result);
    if (!_read_failure && t.file_packets == 0) {
        _result.empty = true;
    }
}

}  // namespace

replay_result send_through_sockets(const replay_run& run) {
    return socket_sender(run).run();
}

}  // namespace xcap
