#include "writer/writer.h"

#include <linux/bpf.h>
#include <poll.h>
#include <time.h>

#include <algorithm>

#include "common/counter.h"
#include "engine/clock.h"

namespace xcap {
namespace {

// Adaptive moderation (see writer.h): the nap is sized so about
// gather_target packets wait when it ends, a quarter of the default ring.
// Fixed 100 µs naps made context switches a third of the CPU at 1 Mpps.
constexpr int64_t min_nap_ns = 50'000;
constexpr int64_t max_nap_ns = 2'000'000;
constexpr uint64_t gather_target = 2048;
constexpr uint32_t empty_naps_before_poll = 20;
// Busy cycles between two readings of the sources' drop counters (one
// syscall each); they are also read whenever the capture goes idle.
constexpr uint32_t cycles_per_drop_sample = 64;
// After a stop, how long every source must stay empty: a packet may still be
// between the XDP program and its ring when the program is detached.
constexpr int drain_empty_rounds = 3;
// While a rotated file is still being written by the disk thread, the idle
// writer looks this often to complete it (a 4 MiB write takes a few ms).
constexpr int finishing_look_ms = 10;

void nap(int64_t ns) {
    timespec ts{0, long(ns)};
    nanosleep(&ts, nullptr);
}

}  // namespace

capture_writer::capture_writer(std::vector<packet_source*> sources, savefile_set& files, const writer_config& cfg)
    : _sources(std::move(sources)),
      _stages(_sources.size()),
      _quiet_until(_sources.size(), 0),
      _files(files),
      _cfg(cfg) {
    for (auto* src : _sources) {
        doorbell* b = src->bell();
        if (!b) {
            _bells.clear();
            break;
        }
        if (std::find(_bells.begin(), _bells.end(), b) == _bells.end()) {
            _bells.push_back(b);
        }
    }
    for (auto* b : _bells) {
        _bell_fds.push_back({b->fd(), POLLIN, 0});
        const int64_t w = b->longest_wait_ns();
        _next_record_wait_ns = w >= 0 && (_next_record_wait_ns < 0 || w < _next_record_wait_ns) ? w : _next_record_wait_ns;
    }
    if (!_bells.empty()) {
        _bell_fds.push_back({-1, POLLIN, 0});  // the stop event, set by run()
    }
    if (_cfg.filter) {
        _gathered.reserve(max_snaplen);  // no allocation per packet
    }
}

bool capture_writer::sleep_on_doorbells(const stop_event& stop, uint32_t batch, int timeout_ms) {
    bool ready = false;
    for (auto* src : _sources) {
        ready |= src->arm(batch) != packet_source::arm_state::armed;
    }
    if (ready) {
        return false;
    }
    pollfd& stop_fd = _bell_fds.back();
    stop_fd.fd = stop.fd();
    const int64_t t0 = monotonic_ns();
    const int rc = poll(_bell_fds.data(), _bell_fds.size(), timeout_ms);
    bump(_ctr.sleeps);
    if (rc > 0) {
        for (auto* b : _bells) {
            b->clear();
        }
        // At its timeout poll() looks at the fds once more, and a ring's fd
        // is readable whenever it holds records: a bell rang only if the
        // sleep ended before the timeout.
        const bool timed_out = timeout_ms >= 0 && monotonic_ns() - t0 >= int64_t(timeout_ms) * 1'000'000;
        bump(_ctr.rung, !timed_out && (!(stop_fd.revents & POLLIN) || rc > 1));
    }
    return true;
}

int capture_writer::flush_if_old() {
    // A rotated file still being written is completed (its -z started)
    // soon after its last write, not at the next packet.
    const int finishing_ms = _files.tend() ? finishing_look_ms : -1;
    if (_buffered_since_ns == 0) {
        return finishing_ms;
    }
    const int64_t age = monotonic_ns() - _buffered_since_ns;
    if (age >= _cfg.max_buffer_age_ns) {
        _files.flush();
        _buffered_since_ns = 0;
        return finishing_ms;
    }
    const int age_ms = int((_cfg.max_buffer_age_ns - age + 999'999) / 1'000'000);
    return finishing_ms >= 0 ? std::min(age_ms, finishing_ms) : age_ms;
}

bool capture_writer::refill(size_t q) {
    stage& s = _stages[q];
    s.head = 0;
    s.released = 0;
    s.count = _sources[q]->peek(s.rec, stage_size);
    return s.count > 0;
}

void capture_writer::emit(size_t q, size_t k) {
    stage& s = _stages[q];
    record_ref* r = s.rec + s.head;
    s.head += k;
    if (_cfg.filter) {
        emit_filtered(r, k);
    } else {
        emit_records(r, k);
    }
}

void capture_writer::emit_filtered(record_ref* r, size_t k) {
    // Runs of matches go out together; a record the filter rejects is
    // skipped (it is still given back with the rest).
    size_t from = 0;
    uint64_t rejected = 0;
    for (size_t i = 0; i < k; ++i) {
        const uint8_t* data = r[i].data;
        if (r[i].segs) {
            _gathered.resize(r[i].len);
            gather(_gathered.data(), r[i].segs, r[i].len);
            data = _gathered.data();
        }
        const uint32_t keep = _cfg.filter->match(data, r[i].len, r[i].wire_len);
        if (keep == 0) {
            if (i > from) {
                emit_records(r + from, i - from);
            }
            from = i + 1;
            ++rejected;
            continue;
        }
        if (keep < r[i].len && (r[i].cap == 0 || keep < r[i].cap)) {
            r[i].cap = keep;  // the filter's `ret k`, as in the kernel
        }
    }
    if (k > from) {
        emit_records(r + from, k - from);
    }
    bump(_ctr.filter_rejected, rejected);
}

void capture_writer::emit_records(record_ref* r, size_t k) {
    uint64_t unstamped = 0;
    for (size_t i = 0; i < k; ++i) {
        unstamped += !r[i].stamped;
        if (r[i].nic_ts_ns) [[unlikely]] {
            // Merged by the kernel's time, written with the NIC's (as is:
            // write_run adds the offset to the realtime clock).
            r[i].ts_ns = r[i].nic_ts_ns - uint64_t(_cfg.realtime_offset_ns);
        }
    }
    bump(_ctr.meta_missing, unstamped);
    if (_limit_reached || _files_done) {
        bump(_ctr.over_limit, k);
        return;
    }
    if (_files.failed()) {
        bump(_ctr.write_errors, k);
        return;
    }
    size_t n = k;
    if (_cfg.count_limit) {
        // Not yet reached (checked above): written < count_limit.
        n = std::min<uint64_t>(k, _cfg.count_limit - _ctr.written.load(std::memory_order_relaxed));
    }
    const uint64_t first_id = _packet_id;
    const auto res = _files.write_run(r, n, uint64_t(_cfg.realtime_offset_ns), [first_id](const record_ref& x, size_t i) {
        packet_meta meta;
        meta.interface = x.interface;
        meta.queue = x.queue;
        meta.packet_id = x.packet_id ? x.packet_id : first_id + i;
        meta.dropcount = x.drops_before;
        meta.xdp_verdict = x.verdict;
        meta.wire_len = x.wire_len;
        meta.comment = x.comment;
        meta.segs = x.segs;
        meta.inbound = !x.outbound;
        if (x.cap) {
            meta.cap = x.cap;  // a filter's `ret k` below the snaplen
        }
        return meta;
    });
    uint64_t bytes = 0;
    for (size_t i = 0; i < res.written; ++i) {
        bytes += r[i].wire_len > r[i].len ? r[i].wire_len : r[i].len;
    }
    _packet_id += res.written;
    bump(_ctr.snaplen_cut, res.cut);
    bump(_ctr.written, res.written);
    bump(_ctr.written_bytes, bytes);
    if (_cfg.count_limit && _ctr.written.load(std::memory_order_relaxed) >= _cfg.count_limit) {
        _limit_reached = true;
    }
    // What was not written: after the last file (-W with -G), past -c, or
    // after the output failed.
    const size_t rest = k - res.written;
    if (res.files_done) {
        _files_done = true;
    }
    if (rest > 0) {
        bump(_files.failed() && !res.files_done && res.written < n ? _ctr.write_errors : _ctr.over_limit, rest);
    }
}

size_t capture_writer::run_length(size_t best, bool check_quiet) const {
    const stage& b = _stages[best];
    const size_t nq = _sources.size();
    if (nq == 1) {
        return b.count - b.head;
    }
    // The head goes first (the caller decided). A later record of best goes
    // before another source's head if it is older, or as old and best's
    // index is lower (the order one-by-one selection gives); and, for an
    // idle source, if it is no newer than the time that source is known
    // quiet up to. As one bound: best's records go while older than `limit`.
    uint64_t limit = UINT64_MAX;
    for (size_t q = 0; q < nq; ++q) {
        if (q == best) {
            continue;
        }
        const stage& o = _stages[q];
        if (!o.empty()) {
            const uint64_t h = o.rec[o.head].ts_ns;
            limit = std::min(limit, best < q && h < UINT64_MAX ? h + 1 : h);
        } else if (check_quiet) {
            limit = std::min(limit, _quiet_until[q] < UINT64_MAX ? _quiet_until[q] + 1 : UINT64_MAX);
        }
    }
    size_t k = 1;
    while (b.head + k < b.count && b.rec[b.head + k].ts_ns < limit) {
        ++k;
    }
    return k;
}

void capture_writer::give_back(size_t q) {
    stage& s = _stages[q];
    if (s.head > s.released) {
        _sources[q]->release(s.rec + s.released, s.head - s.released);
        s.released = s.head;
    }
}

bool capture_writer::crowded(size_t q) const {
    // Records of q that wait on its ring are off its fill ring: past this
    // share the socket would soon start dropping.
    return _sources[q]->backlog() >= _cfg.merge_backlog;
}

bool capture_writer::pending() const {
    for (const auto& s : _stages) {
        if (!s.empty()) {
            return true;
        }
    }
    return false;
}

size_t capture_writer::cycle(bool draining) {
    const size_t nq = _sources.size();
    size_t taken = 0;
    for (size_t q = 0; q < nq; ++q) {
        if (_stages[q].empty() && refill(q)) {
            taken += _stages[q].count;
        }
    }
    const uint64_t now = uint64_t(monotonic_ns());
    const uint64_t window = uint64_t(_cfg.merge_window_ns);
    // Per idle source, a time up to which it is known to have nothing more.
    std::fill(_quiet_until.begin(), _quiet_until.end(), 0);
    for (;;) {
        size_t best = nq;
        for (size_t q = 0; q < nq; ++q) {
            if (!_stages[q].empty() &&
                (best == nq || _stages[q].rec[_stages[q].head].ts_ns < _stages[best].rec[_stages[best].head].ts_ns)) {
                best = q;
            }
        }
        if (best == nq) {
            break;
        }
        stage& b = _stages[best];
        const uint64_t ts = b.rec[b.head].ts_ns;
        if (nq > 1 && !draining) {
            // Another source with nothing pending may yet deliver an older record.
            bool blocked = false;
            bool restart = false;
            for (size_t q = 0; q < nq && !blocked && !restart; ++q) {
                if (q == best || !_stages[q].empty() || ts <= _quiet_until[q]) {
                    continue;
                }
                const uint64_t t = uint64_t(monotonic_ns());  // before quiet(): see packet_source
                switch (_sources[q]->quiet()) {
                    case packet_source::quiet_state::available:
                        if (refill(q)) {
                            taken += _stages[q].count;
                            restart = true;  // q has a head now; compare again
                        }
                        break;
                    case packet_source::quiet_state::quiet:
                        _quiet_until[q] = t;
                        blocked = ts > t && ts + window > now;
                        break;
                    case packet_source::quiet_state::in_flight:
                        blocked = ts + window > now && !crowded(best);
                        break;
                }
            }
            if (restart) {
                continue;
            }
            if (blocked) {
                break;
            }
        }
        emit(best, run_length(best, nq > 1 && !draining));
        if (b.empty()) {
            give_back(best);
            if (refill(best)) {
                taken += b.count;
            }
        }
    }
    for (size_t q = 0; q < nq; ++q) {
        give_back(q);
    }
    return taken;
}

void capture_writer::run(const stop_event& stop) {
    int64_t nap_ns = min_nap_ns;
    uint64_t gathered = 0;    // records taken since the last nap began
    uint32_t empty_naps = 0;
    uint32_t cycles = 0;
    int drained_rounds = 0;
    uint32_t empty_sleeps = 0;  // batched sleeps since records last came
    for (;;) {
        const bool stopping = stop.requested();
        const size_t taken = cycle(stopping);
        if (_limit_reached || _files_done || _files.failed()) {
            // Keep giving records back until the stop, but tell the main
            // thread now.
            if (!_finished.requested()) {
                _output_error = _files.error();
                _finished.request();
            }
        }
        if (taken > 0) {
            _files.end_batch();  // a flush for streams and -U, else nothing
            if (_buffered_since_ns == 0 && _cfg.max_buffer_age_ns > 0) {
                _buffered_since_ns = monotonic_ns();
            }
            gathered += taken;
            empty_naps = 0;
            empty_sleeps = 0;
            drained_rounds = 0;
            if (++cycles % cycles_per_drop_sample == 0) {
                for (auto* s : _sources) {
                    s->sample_drops();
                }
            }
            continue;
        }
        if (pending()) {
            nap(min_nap_ns);  // a head waits for another source's packet in flight
            continue;
        }
        if (_cfg.flush_when_idle) {
            _files.flush();
        }
        const int flush_in_ms = flush_if_old();
        if (stopping) {
            // Detached: nothing new is redirected, but a packet may still be
            // between the XDP program and its ring. Look again a few times.
            if (++drained_rounds >= drain_empty_rounds) {
                break;
            }
            nap(1'000'000);
            continue;
        }
        for (auto* s : _sources) {
            s->sample_drops();  // going idle: attribute drops, and let quiet() see them
        }
        if (!_bells.empty()) {
            // Idle twice in a row (or -U): wake at the next record, however long.
            const bool next_record = empty_sleeps >= 2 || _cfg.wake_latency_ns <= 0;
            const int64_t wait_ns = next_record ? _next_record_wait_ns : _cfg.wake_latency_ns;
            int timeout_ms = wait_ns < 0 ? -1 : int(std::max<int64_t>(wait_ns / 1'000'000, 1));
            if (flush_in_ms >= 0 && (timeout_ms < 0 || flush_in_ms < timeout_ms)) {
                timeout_ms = flush_in_ms;
            }
            if (sleep_on_doorbells(stop, next_record ? 1 : std::max<uint32_t>(_cfg.wake_batch, 1), timeout_ms)) {
                ++empty_sleeps;
            }
            continue;
        }
        bump(_ctr.sleeps);
        if (++empty_naps <= empty_naps_before_poll) {
            // Aim the next nap at gather_target records, from what the last
            // one gathered (a proportional step, clamped).
            nap_ns = gathered > 0 ? std::clamp<int64_t>(int64_t(double(nap_ns) * double(gather_target) /
                                                                double(gathered)),
                                                         min_nap_ns, max_nap_ns)
                                  : max_nap_ns;
            gathered = 0;
            nap(nap_ns);
            continue;
        }
        // Idle for a while: block until a source has records, or the stop.
        std::vector<pollfd> fds;
        for (auto* s : _sources) {
            if (s->wait_fd() >= 0) {
                fds.push_back({s->wait_fd(), POLLIN, 0});
            }
        }
        fds.push_back({stop.fd(), POLLIN, 0});
        poll(fds.data(), fds.size(), flush_in_ms);
        nap_ns = min_nap_ns;
    }
    _files.flush();
    if (!_finished.requested()) {
        _output_error = _files.error();
        _finished.request();
    }
}

}  // namespace xcap
