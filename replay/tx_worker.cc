#include "replay/tx_worker.h"

#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <vector>

#include "common/counter.h"
#include "engine/clock.h"
#include "engine/cpu.h"

namespace xcap {
namespace {

#ifndef XDP_MAX_TX_SKB_BUDGET
#define XDP_MAX_TX_SKB_BUDGET 9  // linux/if_xdp.h from 6.17
#endif

constexpr uint32_t batch = 64;
// Frames one copy-mode sendto() may send. 128 took 64-byte replay from 0.78
// to 0.99 Mpps here; 512 was no better.
constexpr int tx_skb_budget = 128;
// Sleep until this long before a packet is due, then spin: the wake-up
// latency of a sleep (tens of µs in a VM) must not become send-time error.
constexpr int64_t spin_window_ns = 150'000;

class tx_loop {
public:
    tx_loop(tx_queue_state& q, tx_shared& s)
        : _q(q),
          _s(s),
          _xsk(*q.xsk),
          _tx(q.xsk->tx()),
          _frames(q.xsk->config().frame_count),
          _chunk(q.xsk->config().frame_size),
          _multi(q.xsk->multi_buffer()) {
        if (_multi) {
            _descs_of.resize(_frames);  // at most one packet in flight per frame
        }
    }

    void run() {
        uint64_t loop = 0;
        size_t next = 0;
        tx_item pending[batch];
        size_t npending = 0;  // items taken from the source but not yet due
        bool source_done = false;
        bool feed_finished = false;
        for (;;) {
            reclaim();
            if (_s.stopping()) {
                break;
            }
            // Fill `pending` from the source, in order. Once the source is
            // exhausted it stays so; what is pending is still sent.
            while (npending < batch && !source_done) {
                tx_item it;
                if (_q.table) {
                    if (next == _q.table->size()) {
                        ++loop;
                        next = 0;
                        if (_q.table->empty() || (_s.loops && loop >= _s.loops)) {
                            source_done = true;
                            break;
                        }
                    }
                    it = (*_q.table)[next++];
                    it.due_ns = due_in_loop(it.due_ns, loop, _s.loop_period_ns);
                } else if (!_q.feed->pop(it)) {
                    // Done only if the reader had finished before this empty pop.
                    source_done = feed_finished && _q.feed->read_available() == 0;
                    feed_finished = _q.feed_done->load(std::memory_order_acquire);
                    break;
                }
                pending[npending++] = it;
            }
            if (npending == 0) {
                if (source_done) {
                    break;
                }
                nap(20'000);  // the reader is behind
                continue;
            }
            const int64_t now = monotonic_ns() - _s.start_ns;
            if (pending[0].due_ns > now) {
                wait_until(pending[0].due_ns);
                continue;
            }
            // Everything already due, as far as ring room and the budget allow.
            size_t k = 0;
            while (k < npending && pending[k].due_ns <= now) {
                ++k;
            }
            k = _multi ? fit(pending, k) : std::min<size_t>(k, room());
            if (k == 0) {
                kick();
                nap(5'000);
                continue;
            }
            k = take_budget(k);
            if (k == 0) {
                break;
            }
            if (_multi) {
                send_multi(pending, k);
            } else {
                send(pending, k);
            }
            for (size_t i = k; i < npending; ++i) {
                pending[i - k] = pending[i];
            }
            npending -= k;
        }
        finish();
    }

private:
    // Slots we may fill: free TX ring slots, and no more in flight than the
    // completion ring can hold.
    size_t room() {
        uint64_t in_flight = _submitted - _completed;
        uint32_t free = xsk_prod_nb_free(&_tx, batch);
        return std::min<uint64_t>(free, _frames - in_flight);
    }

    uint32_t descs(uint32_t len) const { return len <= _chunk ? 1 : (len + _chunk - 1) / _chunk; }

    // Multi-buffer: how many of the first k items fit, counting descriptors.
    size_t fit(const tx_item* items, size_t k) {
        size_t free = room();
        size_t n = 0;
        while (n < k && descs(items[n].len) <= free) {
            free -= descs(items[n].len);
            ++n;
        }
        return n;
    }

    // As send(), but a packet longer than a UMEM frame goes as one descriptor
    // per frame, all but the last flagged XDP_PKT_CONTD. Descriptors are
    // counted for ring room, packets for the totals.
    void send_multi(const tx_item* items, size_t k) {
        uint32_t total = 0;
        for (size_t i = 0; i < k; ++i) {
            total += descs(items[i].len);
        }
        uint32_t idx = 0;
        xsk_ring_prod__reserve(&_tx, total, &idx);
        uint64_t bytes = 0;
        for (size_t i = 0; i < k; ++i) {
            const uint32_t n = descs(items[i].len);
            uint32_t left = items[i].len;
            for (uint32_t j = 0; j < n; ++j) {
                xdp_desc* d = xsk_ring_prod__tx_desc(&_tx, idx++);
                d->addr = items[i].addr + uint64_t(j) * _chunk;
                d->len = std::min(left, _chunk);
                d->options = j + 1 < n ? XDP_PKT_CONTD : 0;
                left -= d->len;
            }
            _descs_of[(_sent_packets + i) % _descs_of.size()] = n;
            bytes += items[i].len;
        }
        _sent_packets += k;
        submit(items, k, total, bytes);
    }

    size_t take_budget(size_t k) {
        int64_t b = _s.budget.load(std::memory_order_relaxed);
        while (b >= 0) {
            int64_t take = std::min<int64_t>(b, int64_t(k));
            if (_s.budget.compare_exchange_weak(b, b - take, std::memory_order_relaxed)) {
                if (take == 0) {
                    _s.stop_all();
                }
                return size_t(take);
            }
        }
        return k;
    }

    void send(const tx_item* items, size_t k) {
        uint32_t idx = 0;
        xsk_ring_prod__reserve(&_tx, uint32_t(k), &idx);
        uint64_t bytes = 0;
        for (size_t i = 0; i < k; ++i) {
            xdp_desc* d = xsk_ring_prod__tx_desc(&_tx, idx + uint32_t(i));
            d->addr = items[i].addr;
            d->len = items[i].len;
            d->options = 0;
            bytes += items[i].len;
        }
        submit(items, k, uint32_t(k), bytes);
    }

    // Hands the `descs` reserved descriptors of `k` packets (`bytes` in all)
    // to the kernel and records each packet's send-time error.
    void submit(const tx_item* items, size_t k, uint32_t descs, uint64_t bytes) {
        bump(_q.submitted_bytes, bytes);
        xsk_ring_prod__submit(&_tx, descs);
        _submitted += descs;
        bump(_q.submitted, k);
        kick();
        const int64_t sent_at = monotonic_ns() - _s.start_ns;
        _q.last_send_ns = sent_at;
        for (size_t i = 0; i < k; ++i) {
            int64_t err = sent_at - items[i].due_ns;
            _q.errors.record(uint64_t(err > 0 ? err : 0));
        }
    }

    // Makes the kernel transmit what is on the TX ring. In copy mode one
    // sendto() sends a bounded batch and says EAGAIN when more is left.
    void kick() {
        if (!xsk_ring_prod__needs_wakeup(&_tx)) {
            return;
        }
        for (int i = 0; i < 64; ++i) {
            if (sendto(_xsk.fd(), nullptr, 0, MSG_DONTWAIT, nullptr, 0) >= 0) {
                if (__atomic_load_n(_tx.consumer, __ATOMIC_ACQUIRE) == _tx.cached_prod) {
                    return;
                }
                continue;
            }
            if (errno == EAGAIN || errno == EBUSY || errno == EINTR) {
                continue;
            }
            if (errno == ENOBUFS) {
                nap(2'000);  // the device queue is full; give it a moment
                continue;
            }
            return;  // ENETDOWN and the like: counted by what never completes
        }
    }

    void reclaim() {
        xsk_ring_cons& comp = _xsk.comp();
        uint32_t idx = 0;
        uint32_t n = xsk_ring_cons__peek(&comp, 1024, &idx);
        if (n == 0) {
            return;
        }
        if (_q.free_frames) {
            const uint64_t slot_mask = _q.slot_bytes - 1;
            for (uint32_t i = 0; i < n; ++i) {
                // A packet's descriptors complete together; its slot goes
                // back with the first (a slot per frame without multi-buffer).
                const uint64_t addr = *xsk_ring_cons__comp_addr(&comp, idx + i);
                if ((addr & slot_mask) == 0) {
                    _q.free_frames->push(addr);  // sized for every slot
                }
            }
        }
        xsk_ring_cons__release(&comp, n);
        _completed += n;
        if (!_multi) {
            bump(_q.completed, n);
            return;
        }
        // Descriptors to packets: they complete in the order sent.
        _credit += n;
        uint64_t packets = 0;
        while (_done_packets < _sent_packets && _descs_of[_done_packets % _descs_of.size()] <= _credit) {
            _credit -= _descs_of[_done_packets % _descs_of.size()];
            ++_done_packets;
            ++packets;
        }
        bump(_q.completed, packets);
    }

    void wait_until(int64_t due) {
        int64_t left = due - (monotonic_ns() - _s.start_ns);
        if (left > spin_window_ns) {
            nap(left - spin_window_ns / 2);
            return;
        }
        while (monotonic_ns() - _s.start_ns < due && !_s.stopping()) {
            cpu_relax();
        }
    }

    // Sleeps, unless a stop is requested (then returns at once).
    void nap(int64_t ns) const { _s.stop.sleep_for(ns); }

    // Lets the kernel finish what was submitted (bounded: 2 s).
    void finish() {
        const int64_t deadline = monotonic_ns() + 2'000'000'000;
        while (_completed < _submitted && monotonic_ns() < deadline) {
            kick();
            reclaim();
            if (_completed < _submitted) {
                timespec ts{0, 50'000};  // not nap(): a stop is what brought us here
                nanosleep(&ts, nullptr);
            }
        }
    }

    tx_queue_state& _q;
    tx_shared& _s;
    xsk_queue& _xsk;
    xsk_ring_prod& _tx;
    const uint64_t _frames;
    const uint32_t _chunk;
    const bool _multi;
    uint64_t _submitted = 0;  // descriptors
    uint64_t _completed = 0;  // descriptors
    // Multi-buffer: descriptors of each packet in flight, by packet number.
    std::vector<uint32_t> _descs_of;
    uint64_t _sent_packets = 0;
    uint64_t _done_packets = 0;
    uint64_t _credit = 0;  // completed descriptors not yet matched to a packet
};

}  // namespace

void run_tx_worker(tx_queue_state& q, tx_shared& shared) {
    // Sleeps end within a microsecond of asking, not the default 50 µs.
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    if (!q.xsk->zero_copy()) {
        // Copy mode sends at most this many frames per sendto() (32 unless
        // raised; Linux 6.17+). Older kernels refuse the option: harmless.
        int budget = tx_skb_budget;
        setsockopt(q.xsk->fd(), SOL_XDP, XDP_MAX_TX_SKB_BUDGET, &budget, sizeof(budget));
    }
    tx_loop(q, shared).run();
    q.done.store(true, std::memory_order_release);
}

}  // namespace xcap
