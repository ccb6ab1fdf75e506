#include "replay/stream_reader.h"

#include <cstring>

#include "engine/cpu.h"
#include "replay/schedule.h"

namespace xcap {
namespace {

// UMEM frames per streaming slot: enough for `frame_size` bytes, a power of
// two so slots tile the UMEM.
uint32_t slot_chunks(uint32_t frame_size, uint32_t chunk) {
    uint32_t n = 1;
    while (uint64_t(n) * chunk < frame_size) {
        n <<= 1;
    }
    return n;
}

}  // namespace

stream_reader::stream_reader(const replay_options& opts, replay_input& input, const classifier& proto,
                             replay_totals& totals, std::vector<std::unique_ptr<xsk_queue>>& xsks, tx_shared& shared)
    : _opts(opts), _input(input), _proto(proto), _totals(totals), _xsks(xsks), _shared(shared) {
    // A slot holds the longest frame sent: one UMEM frame, or with
    // multi-buffer a power of two of them (the TX worker gives a slot back
    // when its first frame completes).
    const xsk_config& cfg = xsks[0]->config();
    _slot = cfg.frame_size * uint64_t(slot_chunks(proto.frame_size, cfg.frame_size));
    const uint64_t slots = uint64_t(cfg.frame_count) * cfg.frame_size / _slot;
    for (uint32_t q = 0; q < opts.queues; ++q) {
        _feeds.emplace_back(std::make_unique<boost::lockfree::spsc_queue<tx_item>>(slots));
        _free.emplace_back(std::make_unique<boost::lockfree::spsc_queue<uint64_t>>(slots));
        for (uint64_t f = 0; f < slots; ++f) {
            _free[q]->push(f * _slot);
        }
    }
}

void stream_reader::connect(tx_queue_state& s, uint32_t q) {
    s.slot_bytes = _slot;
    s.feed = _feeds[q].get();
    s.free_frames = _free[q].get();
    s.feed_done = &_done;
}

void stream_reader::start() { _thread = start_thread("xcap-reader", -1, [this] { run(); }); }

void stream_reader::join() {
    if (_thread.joinable()) {
        _thread.join();
    }
}

void stream_reader::run() {
    try {
        read_loops();
    } catch (...) {
        _error = std::current_exception();
        _shared.stop_all();
    }
    _done.store(true, std::memory_order_release);
}

void stream_reader::read_loops() {
    int64_t period = 0;
    uint64_t readable = UINT64_MAX;
    for (uint64_t loop = 0; (_opts.loops == 0 || loop < _opts.loops) && !_shared.stopping(); ++loop) {
        replay_totals local;
        classifier classify = _proto.counting_into(local);
        schedule_builder sched(_opts.pace);
        uint64_t n = read_pass(_input, readable, &_shared.stop, _error, [&](const read_packet& p, uint64_t i) {
            uint32_t bytes = classify(p, i);
            if (!bytes) {
                return true;
            }
            uint32_t q = flow_queue(p.data, p.caplen, _opts.queues);
            int64_t due = due_in_loop(sched.next(p.ts_ns, bytes), loop, period);
            uint64_t addr = 0;
            while (!_free[q]->pop(addr)) {
                if (!_shared.stop.sleep_for(20'000)) {
                    return false;
                }
            }
            std::memcpy(_xsks[q]->area() + addr, p.data, bytes);
            _feeds[q]->push(tx_item{addr, bytes, 0, due});  // as many slots as frames
            return true;
        });
        if (loop == 0) {
            readable = n;  // later passes stop where this one did
            _totals.file_packets = n;
            _totals.skipped_too_big = local.skipped_too_big;
            _totals.skipped_too_short = local.skipped_too_short;
            _totals.truncated = local.truncated;
            _totals.first_too_big = local.first_too_big;
            _totals.first_too_big_len = local.first_too_big_len;
        }
        period = sched.loop_period_ns();  // every pass schedules the same
        if (n == 0) {
            break;
        }
    }
}

}  // namespace xcap
