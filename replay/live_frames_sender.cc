#include "replay/live_frames_sender.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>
#include <vector>

#include "bpf/xcap_abi.h"
#include "common/error.h"
#include "engine/clock.h"
#include "engine/live_frames.h"
#include "engine/signals.h"
#include "common/owned.h"
#include "replay/plan.h"
#include "xcap_replay.skel.h"

namespace xcap {
namespace {

using replay_skeleton = unique_skeleton<xcap_replay_bpf, xcap_replay_bpf__destroy>;

// How many runs the next BPF_PROG_RUN call asks for, after a call of `n`
// runs (the most asked was `per_call`) that took `took_ns`. Calls of
// 100-400 ms: the size doubles after a shorter call and halves after a
// longer one, so a signal or --duration ends the sending within about that
// on a fast machine or a slow one. Not shorter: each call also costs two
// updates of the kernel's XDP dispatcher, each waiting for an RCU grace
// period (milliseconds here; calls of 16,384 runs held 1,000,000 packets to
// 2.2-2.9 Mpps, the process asleep half the time).
uint64_t next_call_size(uint64_t per_call, uint64_t n, int64_t took_ns) {
    if (n == per_call && took_ns < 100'000'000) {
        return std::min<uint64_t>(per_call * 2, uint64_t(1) << 24);
    }
    if (took_ns > 400'000'000) {
        return std::max<uint64_t>(per_call / 2, 1024);
    }
    return per_call;
}

class live_frames_sender {
public:
    explicit live_frames_sender(const replay_run& run);

    std::optional<replay_result> run();

private:
    std::optional<replay_result> cannot(const failure& f) const;
    void count_packets();
    std::optional<failure> check_fits();
    std::optional<failure> load();
    void fill_map();
    std::optional<failure> send();
    void finish();

    const replay_run& _run;
    replay_result _result;
    const classifier _proto;  // counts into _result.totals
    std::exception_ptr _read_failure;
    uint64_t _readable = 0;
    uint64_t _packets = 0;     // of one pass, those to send
    uint32_t _longest = 14;
    uint32_t _value_size = 0;  // one slot of the map
    uint64_t _map_bytes = 0;
    replay_skeleton _skel;     // declared before the mapping of its map: unmapped first
    unique_mapping _area;
    std::optional<interface_drops> _drops;
};

live_frames_sender::live_frames_sender(const replay_run& run)
    : _run(run),
      // A live frame is one page: longer frames are skipped and counted.
      _proto{run.dev.mtu + 14, XCAP_REPLAY_MAX_FRAME, XCAP_REPLAY_MAX_FRAME, _result.totals} {
    replay_totals& t = _result.totals;
    t.paced = false;
    t.preloaded = true;
    t.xdp_tx = true;
    t.max_frame = run.dev.mtu + 14;
    t.frame_limit = t.max_frame + 4 > XCAP_REPLAY_MAX_FRAME ? XCAP_REPLAY_MAX_FRAME : 0;
}

std::optional<replay_result> live_frames_sender::run() {
    count_packets();
    if (_readable == 0 && _read_failure) {
        std::rethrow_exception(_read_failure);
    }
    if (_packets == 0) {
        _result.empty = _readable == 0;
        if (_readable) {
            tell_nothing_to_send(_run.opts, _readable, _run.log);
        }
        return std::move(_result);
    }
    if (std::optional<failure> f = check_fits()) {
        return cannot(*f);
    }
    if (std::optional<failure> f = load()) {
        return cannot(*f);
    }
    fill_map();
    tell_skipped(_result.totals, _run.dev, _run.log);
    _run.log.info(_run.dev.name + ": sending with XDP live frames (BPF_PROG_RUN, XDP_TX), " + std::to_string(_packets) +
              " packets preloaded");
    if (std::optional<failure> f = send()) {
        return cannot(*f);
    }
    finish();
    return std::move(_result);
}

std::optional<replay_result> live_frames_sender::cannot(const failure& f) const {
    if (_run.opts.send != send_path::automatic) {
        throw f;
    }
    if (_run.opts.verbose) {
        _run.log.info(std::string("sending through an AF_XDP socket: ") + f.what());
    }
    return std::nullopt;
}

// The first pass only sizes the map; the skipped are counted by the second.
void live_frames_sender::count_packets() {
    replay_totals counting;
    classifier sizing = _proto.counting_into(counting);
    _readable = read_pass(_run.input, UINT64_MAX, nullptr, _read_failure, [&](const read_packet& p, uint64_t n) {
        if (uint32_t bytes = sizing(p, n)) {
            ++_packets;
            _longest = std::max(_longest, bytes);
        }
        return true;
    });
    _result.totals.file_packets = _readable;
}

std::optional<failure> live_frames_sender::check_fits() {
    if (_packets > UINT32_MAX) {
        return failure(failure_kind::usage,
                       _run.opts.input + ": " + std::to_string(_packets) + " packets, more than --xdp-tx takes",
                       "leave out --xdp-tx");
    }
    _value_size = (uint32_t(sizeof(xcap_replay_slot)) - XCAP_REPLAY_MIN_SLOT + _longest + 7) & ~7u;
    _map_bytes = uint64_t(_value_size) * _packets;
    const int64_t budget = preload_budget(_run.opts);
    if (int64_t(_map_bytes) > budget) {
        return failure(failure_kind::usage,
                       "--xdp-tx: " + _run.opts.input + " needs " + std::to_string(_map_bytes >> 20) +
                           " MiB in memory, more than the --preload budget (" + std::to_string(budget >> 20) + " MiB)",
                       "raise --preload, or leave out --xdp-tx");
    }
    return std::nullopt;
}

std::optional<failure> live_frames_sender::load() {
    _skel.reset(xcap_replay_bpf__open());
    if (!_skel) {
        throw failure(failure_kind::runtime, errno, "cannot open the replay program");
    }
    _skel->rodata->packet_count = uint32_t(_packets);
    _skel->rodata->slot_bytes = _value_size - 8;
    bpf_map__set_value_size(_skel->maps.xcap_replay_packets, _value_size);
    bpf_map__set_max_entries(_skel->maps.xcap_replay_packets, uint32_t(_packets));
    if (int err = xcap_replay_bpf__load(_skel.get())) {
        return failure(failure_kind::unsupported, -err,
                       "cannot load the --xdp-tx program (" + std::to_string(_packets) + " packets, " +
                           std::to_string(_map_bytes >> 20) + " MiB)",
                       "leave out --xdp-tx");
    }
    _area = map_shared(bpf_map__fd(_skel->maps.xcap_replay_packets), (_map_bytes + 4095) & ~size_t(4095));
    if (!_area) {
        return failure(failure_kind::runtime, errno, "cannot map the --xdp-tx packet map");
    }
    return std::nullopt;
}

// The second pass: each packet sent into its slot, the skipped counted.
void live_frames_sender::fill_map() {
    uint64_t slot = 0;
    classifier classify = _proto;
    read_pass(_run.input, _readable, nullptr, _read_failure, [&](const read_packet& p, uint64_t n) {
        if (uint32_t bytes = classify(p, n)) {
            auto* s = reinterpret_cast<xcap_replay_slot*>(_area.get() + slot * _value_size);
            s->len = bytes;
            std::memcpy(s->data, p.data, bytes);
            ++slot;
        }
        return slot < _packets;
    });
}

// The file `loops` times (0: until stopped), at most --limit, until a
// signal or --duration. Nothing is sent yet when it returns a failure.
std::optional<failure> live_frames_sender::send() {
    const uint64_t total = _run.opts.loops ? _packets * _run.opts.loops : UINT64_MAX;
    const uint64_t want = _run.opts.limit ? std::min<uint64_t>(total, _run.opts.limit) : total;
    uint64_t per_call = 262144;
    std::vector<uint8_t> frame(_longest, 0);  // each run sizes it and writes its packet over it
    stop_signals signals;
    _run.carrier.before_sending(_run.log);
    _drops.emplace(_run.dev.ifindex);
    progress_meter meter(_run.opts, _packets, _run.log);
    const int64_t start = monotonic_ns();
    const int64_t deadline = _run.opts.duration_s > 0 ? start + int64_t(_run.opts.duration_s * 1e9) : 0;
    const int prog = bpf_program__fd(_skel->progs.xcap_replay);
    uint64_t done = 0;
    while (done < want) {
        if (signals.wait(0)) {
            _result.interrupted = true;
            break;
        }
        if (deadline && monotonic_ns() >= deadline) {
            break;
        }
        const uint64_t n = std::min(per_call, want - done);
        const int64_t call_start = monotonic_ns();
        if (const int err = run_live_frames(prog, _run.dev.ifindex, frame, n)) {
            if (err == EINTR) {
                _result.interrupted = true;
                break;
            }
            // Capabilities were checked before: EPERM here is the kernel's
            // own refusal (a hardened kernel may refuse live frames to root).
            failure f(failure_kind::unsupported, err, "cannot send with XDP live frames on " + _run.dev.name,
                      err == EPERM ? "this kernel refuses BPF_PROG_RUN on live frames even with the capabilities; "
                                     "leave out --xdp-tx"
                                   : "leave out --xdp-tx (it needs Linux 5.18 or later)");
            if (done == 0) {
                return f;  // nothing sent yet: the socket can still send it all
            }
            throw f;
        }
        done += n;
        const int64_t now = monotonic_ns();
        if (meter.due(now)) {
            meter.report(now, _skel->bss->sent);
        }
        per_call = next_call_size(per_call, n, now - call_start);
    }
    _result.totals.seconds = double(monotonic_ns() - start) / 1e9;
    meter.clear();
    return std::nullopt;
}

void live_frames_sender::finish() {
    replay_totals& t = _result.totals;
    t.sent = _skel->bss->sent;
    t.sent_bytes = _skel->bss->sent_bytes;
    t.xdp_failed = _skel->bss->failed;
    _drops->settle(t);
    keep_input_error(_read_failure, _result);
}

}  // namespace

std::optional<replay_result> send_with_live_frames(const replay_run& run) {
    return live_frames_sender(run).run();
}

}  // namespace xcap
