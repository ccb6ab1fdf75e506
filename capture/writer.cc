#include "capture/writer.h"

#include <poll.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>

#include "common/counter.h"
#include "engine/clock.h"
#include "bpf/xcap_abi.h"

namespace xcap {

capture_writer::capture_writer(std::vector<queue_channel*> channels, savefile_set& files, const writer_config& cfg)
    : _bell(channels.empty() ? nullptr : channels.front()->writer_bell),
      _channels(std::move(channels)),
      _stages(_channels.size()),
      _quiet_until(_channels.size(), 0),
      _taken(_channels.size(), 0),
      _files(files),
      _cfg(cfg) {}

bool capture_writer::refill(size_t q) {
    stage& s = _stages[q];
    queue_channel& ch = *_channels[q];
    s.head = 0;
    s.count = ch.handoff.pop(s.desc, stage_size);
    _taken[q] += s.count;
    // The kernel wrote these frames on another core: start every cache miss
    // now (metadata line and first packet line), so they overlap instead of
    // being paid one after another below and in emit().
    for (size_t i = 0; i < s.count; ++i) {
        const uint8_t* pkt = ch.area + s.desc[i].addr;
        __builtin_prefetch(pkt - sizeof(xcap_meta), 1);
        __builtin_prefetch(pkt, 0);
    }
    for (size_t i = 0; i < s.count; ++i) {
        // The XDP program left its stamp just before the packet. Clearing the
        // magic keeps a stale stamp from being trusted when the frame is reused.
        auto* meta = reinterpret_cast<xcap_meta*>(ch.area + s.desc[i].addr - sizeof(xcap_meta));
        if (meta->magic == XCAP_META_MAGIC) {
            s.ts[i] = meta->rx_ts_ns;
            meta->magic = 0;
        } else {
            s.ts[i] = uint64_t(monotonic_ns());
            bump(_ctr.meta_missing);
        }
    }
    return s.count > 0;
}

void capture_writer::emit(size_t q) {
    stage& s = _stages[q];
    queue_channel& ch = *_channels[q];
    const rx_desc& d = s.desc[s.head];
    if (_limit_reached || _files_done) {
        bump(_ctr.over_limit);
    } else if (_files.failed()) {
        bump(_ctr.write_errors);
    } else {
        packet_meta meta;
        meta.queue = ch.queue;
        meta.packet_id = _packet_id;
        meta.dropcount = d.drops_before;
        meta.xdp_verdict = 4;  // XDP_REDIRECT: what xcap_rx did with it
        auto r = _files.write(s.ts[s.head] + uint64_t(_cfg.realtime_offset_ns), ch.area + d.addr, d.len, meta);
        if (r == savefile_set::result::files_done) {
            _files_done = true;
            bump(_ctr.over_limit);
        } else {
            ++_packet_id;
            bump(_ctr.snaplen_cut, r == savefile_set::result::cut);
            bump(_ctr.written);
            bump(_ctr.written_bytes, d.len);
            if (_cfg.count_limit && _ctr.written.load(std::memory_order_relaxed) >= _cfg.count_limit) {
                _limit_reached = true;
            }
        }
    }
    s.returned[s.nreturned++] = d.addr & ch.frame_mask;
    ++s.head;
}

bool capture_writer::crowded(size_t q) const {
    // Frames of q that wait in its handoff ring are off its fill ring: past
    // this share the socket would soon start dropping.
    const queue_channel& ch = *_channels[q];
    return ch.handoff.read_available() >= _cfg.merge_backlog_frames;
}

void capture_writer::give_back(size_t q) {
    stage& s = _stages[q];
    if (s.nreturned) {
        // The return ring holds every frame of the queue, so this cannot fail.
        _channels[q]->returns.push(s.returned, s.nreturned);
        s.nreturned = 0;
    }
}

size_t capture_writer::cycle(bool draining) {
    const size_t nq = _channels.size();
    size_t taken = 0;
    for (size_t q = 0; q < nq; ++q) {
        if (_stages[q].empty() && refill(q)) {
            taken += _stages[q].count;
        }
    }
    const uint64_t now = uint64_t(monotonic_ns());
    const uint64_t window = uint64_t(_cfg.merge_window_ns);
    // Per idle queue, a time up to which it is known to have nothing more
    // (see the merge in writer.h).
    std::fill(_quiet_until.begin(), _quiet_until.end(), 0);
    for (;;) {
        size_t best = nq;
        for (size_t q = 0; q < nq; ++q) {
            if (!_stages[q].empty() &&
                (best == nq || _stages[q].ts[_stages[q].head] < _stages[best].ts[_stages[best].head])) {
                best = q;
            }
        }
        if (best == nq) {
            break;
        }
        stage& b = _stages[best];
        const uint64_t ts = b.ts[b.head];
        if (nq > 1 && !draining) {
            // Another queue with nothing pending may yet deliver an older packet.
            bool blocked = false;
            bool restart = false;
            for (size_t q = 0; q < nq && !blocked && !restart; ++q) {
                if (q == best || !_stages[q].empty() || ts <= _quiet_until[q]) {
                    continue;
                }
                queue_channel& ch = *_channels[q];
                // In this order: the clock, the program's count, the RX ring,
                // then the handoff ring (refill). A packet the program counts
                // after `issued` was read is stamped after `t`; one counted
                // before it is in the ring, the handoff ring, with us, or lost.
                const uint64_t t = uint64_t(monotonic_ns());
                const uint64_t issued = ch.issued();
                const bool ring_empty = ch.rx_ring_empty();
                if (refill(q)) {
                    taken += _stages[q].count;
                    restart = true;  // q has a head now; compare again
                } else if (ring_empty && _taken[q] + ch.lost.load(std::memory_order_acquire) >= issued) {
                    _quiet_until[q] = t;
                    blocked = ts > t && ts + window > now;
                } else {
                    // Stamped but not yet published, or q's worker is behind,
                    // or a drop not yet sampled: wait, but boundedly.
                    blocked = ts + window > now && !crowded(best);
                }
            }
            if (restart) {
                continue;
            }
            if (blocked) {
                break;
            }
        }
        emit(best);
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

void capture_writer::block_until_rung(bool all_done) {
    _bell->asleep.store(true, std::memory_order_seq_cst);
    bool empty = !all_done;
    for (auto* ch : _channels) {
        empty = empty && ch->handoff.read_available() == 0 && !ch->worker_done.load(std::memory_order_acquire);
    }
    if (empty) {
        // The timeout is a safety net only: every push after `asleep` rings.
        pollfd p{_bell->efd.get(), POLLIN, 0};
        poll(&p, 1, 1000);
    }
    uint64_t n;
    [[maybe_unused]] ssize_t r = read(_bell->efd.get(), &n, sizeof(n));
    _bell->asleep.store(false, std::memory_order_relaxed);
}

void capture_writer::run() {
    unsigned idle_rounds = 0;
    for (;;) {
        bool all_done = true;
        for (auto* ch : _channels) {
            all_done = all_done && ch->worker_done.load(std::memory_order_acquire);
        }
        size_t taken = cycle(all_done);
        bool pending = false;
        for (const auto& s : _stages) {
            pending = pending || !s.empty();
        }
        if (all_done && taken == 0 && !pending) {
            break;
        }
        if (_limit_reached || _files_done || _files.failed()) {
            // Keep returning frames until the workers stop, but tell the
            // main thread now.
            if (!_finished.requested()) {
                _finished.request();
            }
        }
        if (taken > 0) {
            idle_rounds = 0;
            continue;
        }
        if (_cfg.flush_when_idle) {
            _files.flush();
        }
        // Idle: the same moderation as the workers (100 µs) for a while; then,
        // with nothing held anywhere, block until a worker rings. While a head
        // waits for another queue (pending), keep to short naps: the wait has
        // a deadline of its own.
        if (++idle_rounds <= idle_rounds_before_block || pending || !_bell) {
            timespec ts{0, 100'000};
            nanosleep(&ts, nullptr);
            continue;
        }
        block_until_rung(all_done);
    }
    _files.flush();
    _finished.request();
}

}  // namespace xcap
