#include "sources/xsk_source.h"

#include <linux/bpf.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>

#include "bpf/xcap_abi.h"
#include "common/counter.h"
#include "engine/clock.h"

namespace xcap {

xsk_source::xsk_source(xsk_queue& xsk, const uint64_t* issued)
    : _xsk(&xsk),
      _rx(xsk.rx()),
      _fill(xsk.fill()),
      _area(xsk.area()),
      _frame_mask(xsk.frame_mask()),
      _queue(xsk.queue()),
      _issued(issued) {
    sample_drops();
    _drops_pending = 0;  // before the first packet: nothing to attribute them to
}

xsk_source::xsk_source(const rings& r, const uint64_t* issued)
    : _xsk(nullptr),
      _rx(*r.rx),
      _fill(*r.fill),
      _area(r.area),
      _frame_mask(r.frame_mask),
      _queue(r.queue),
      _issued(issued),
      _plain_drops(r.drops) {}

size_t xsk_source::peek(record_ref* out, size_t max) {
    xsk_ring_cons& rx = _rx;
    uint32_t idx = 0;
    const uint32_t n = xsk_ring_cons__peek(&rx, uint32_t(max), &idx);
    if (n == 0) {
        return 0;
    }
    uint8_t* const area = _area;
    // The kernel wrote these frames on another core: start every cache miss
    // now (the metadata's line and the next, which hold a small packet
    // whole), so they overlap instead of being paid one after another. The
    // next line, not the packet's first: where the metadata is in the frame
    // the two share a line, and a 64-byte packet ends in the one after. The
    // options of the batch are gathered on the way: a multi-buffer packet
    // sends the whole batch the other way.
    uint32_t options = 0;
    for (uint32_t i = 0; i < n; ++i) {
        const xdp_desc* d = xsk_ring_cons__rx_desc(&rx, idx + i);
        options |= d->options;
        const uint8_t* meta = area + d->addr + _prefix - sizeof(xcap_meta);
        __builtin_prefetch(meta, 1);
        __builtin_prefetch(meta + 64, 0);
    }
    if (options & XDP_PKT_CONTD) [[unlikely]] {
        return peek_multi(out, max, idx, n);
    }
    uint64_t bytes = 0;
    for (uint32_t i = 0; i < n; ++i) {
        const xdp_desc* d = xsk_ring_cons__rx_desc(&rx, idx + i);
        fill_record(out[i], d, area + d->addr);
        bytes += out[i].len;
    }
    _peeked += n;
    delivered(out, n, bytes);
    return n;
}

// One descriptor's record, read in place (inlined into peek's loop).
inline void xsk_source::fill_record(record_ref& r, const xdp_desc* d, uint8_t* pkt) {
    uint32_t len = d->len;
    if (len >= _prefix) {  // always, as the program writes it
        pkt += _prefix;
        len -= _prefix;
    }
    auto* meta = reinterpret_cast<xcap_meta*>(pkt - sizeof(xcap_meta));
    r.data = pkt;
    r.len = len;
    r.cookie = d->addr;
    r.drops_before = 0;
    r.wire_len = 0;
    r.queue = _queue;
    r.interface = _interface;
    r.verdict = XDP_REDIRECT;  // what xcap_rx did with it
    r.packet_id = 0;
    r.comment = nullptr;
    r.segs = nullptr;
    r.outbound = 0;
    if (meta->magic == XCAP_META_MAGIC) {
        r.ts_ns = meta->rx_ts_ns;
        r.nic_ts_ns = meta->nic_ts_ns;
        r.cap = meta->cap;
        r.stamped = 1;
        meta->magic = 0;  // a stale stamp must not be trusted when the frame is reused
    } else {
        r.ts_ns = uint64_t(monotonic_ns());
        r.nic_ts_ns = 0;
        r.cap = 0;
        r.stamped = 0;
    }
}

// A batch with at least one multi-buffer packet. Descriptors [idx, idx + n)
// are peeked; a packet's descriptors are published together, so one cut off
// by `max` has the rest on the ring already and is peeked further. Pieces
// point into the UMEM (the frames stay off the fill ring until released) and
// are listed in an array of a slot per RX ring entry, reused once no record
// of several descriptors is outstanding; a packet that does not fit is
// un-peeked for next time.
size_t xsk_source::peek_multi(record_ref* out, size_t max, uint32_t idx, uint32_t n) {
    xsk_ring_cons& rx = _rx;
    if (_multi_outstanding == 0) {
        _segs_used = 0;
    }
    if (!_segs) {
        // Allocated at the first multi-buffer packet: a socket without
        // multi-buffer never needs it (a driver may still split a packet).
        _segs_size = rx.size;
        _segs = std::make_unique<segment[]>(_segs_size);
    }
    size_t recs = 0;
    uint32_t i = 0;
    uint64_t bytes = 0;
    while (i < n && recs < max) {
        const xdp_desc* d = xsk_ring_cons__rx_desc(&rx, idx + i);
        if (!(d->options & XDP_PKT_CONTD)) {
            fill_record(out[recs], d, _area + d->addr);
            bytes += out[recs++].len;
            ++i;
            continue;
        }
        // Find the packet's last descriptor.
        uint32_t k = 1;
        uint64_t total = d->len;
        bool whole = false;
        for (;;) {
            if (i + k == n) {
                uint32_t more = 0;
                if (xsk_ring_cons__peek(&rx, 1, &more) == 0) {
                    break;  // not published (cannot happen: the kernel publishes whole packets)
                }
                ++n;
            }
            const xdp_desc* e = xsk_ring_cons__rx_desc(&rx, idx + i + k);
            total += e->len;
            ++k;
            if (!(e->options & XDP_PKT_CONTD)) {
                whole = true;
                break;
            }
        }
        if (!whole || _segs_used + k > _segs_size) {
            break;  // next time, from this packet on
        }
        record_ref& r = out[recs++];
        fill_record(r, d, _area + d->addr);
        segment* s = _segs.get() + _segs_used;
        for (uint32_t j = 0; j < k; ++j) {
            const xdp_desc* e = xsk_ring_cons__rx_desc(&rx, idx + i + j);
            s[j] = {_area + e->addr, e->len};
        }
        // The metadata is at the start of the first piece only.
        const uint32_t prefix = std::min(_prefix, s[0].len);
        s[0].data += prefix;
        s[0].len -= prefix;
        total -= prefix;
        _segs_used += k;
        r.segs = s;
        r.len = uint32_t(std::min<uint64_t>(total, UINT32_MAX));
        r.cookie = uint64_t(k - 1) << 56 | d->addr;
        ++_multi_outstanding;
        bytes += total;
        i += k;
    }
    if (i < n) {
        xsk_ring_cons__cancel(&rx, n - i);
    }
    _peeked += recs;
    if (recs > 0) {
        delivered(out, recs, bytes);
    }
    return recs;
}

// Releases records of which some span several descriptors: every descriptor
// from the oldest unreleased one on goes back, its frame onto the fill ring.
void xsk_source::release_multi(const record_ref* records, size_t n) {
    uint32_t descs = 0;
    uint64_t multi = 0;
    for (size_t i = 0; i < n; ++i) {
        const uint32_t more = uint32_t(records[i].cookie >> 56);
        descs += 1 + more;
        multi += more != 0;
    }
    xsk_ring_prod& fill = _fill;
    const uint64_t mask = _frame_mask;
    const uint32_t base = *_rx.consumer;  // only this thread moves it
    uint32_t idx = 0;
    xsk_ring_prod__reserve(&fill, descs, &idx);
    for (uint32_t j = 0; j < descs; ++j) {
        *xsk_ring_prod__fill_addr(&fill, idx + j) = xsk_ring_cons__rx_desc(&_rx, base + j)->addr & mask;
    }
    xsk_ring_prod__submit(&fill, descs);
    xsk_ring_cons__release(&_rx, descs);
    _multi_outstanding -= multi;
    if (_xsk && xsk_ring_prod__needs_wakeup(&fill)) {
        recvfrom(_xsk->fd(), nullptr, 0, MSG_DONTWAIT, nullptr, nullptr);
    }
}

void xsk_source::release(const record_ref* records, size_t n) {
    if (n == 0) {
        return;
    }
    if (_multi_outstanding) [[unlikely]] {
        release_multi(records, n);
        return;
    }
    // The fill ring has a slot for every frame and a frame is in exactly one
    // place, so this reservation cannot fail.
    xsk_ring_prod& fill = _fill;
    const uint64_t mask = _frame_mask;
    uint32_t idx = 0;
    xsk_ring_prod__reserve(&fill, uint32_t(n), &idx);
    for (size_t i = 0; i < n; ++i) {
        *xsk_ring_prod__fill_addr(&fill, idx + uint32_t(i)) = records[i].cookie & mask;
    }
    xsk_ring_prod__submit(&fill, uint32_t(n));
    xsk_ring_cons__release(&_rx, uint32_t(n));
    if (_xsk && xsk_ring_prod__needs_wakeup(&fill)) {
        // Zero-copy drivers want a kick to look at the fill ring again.
        recvfrom(_xsk->fd(), nullptr, 0, MSG_DONTWAIT, nullptr, nullptr);
    }
}

packet_source::quiet_state xsk_source::quiet() {
    // In this order: the program's count, then the ring (see the class comment).
    const uint64_t issued = _issued ? __atomic_load_n(_issued, __ATOMIC_ACQUIRE) : 0;
    if (backlog() > 0) {
        return quiet_state::available;
    }
    if (_peeked + _drops_seen >= issued) {
        return quiet_state::quiet;
    }
    // A packet counted but not on the ring: in flight, or dropped by the
    // socket since the last sample. Look at the drops again, not more often
    // than every 100 µs (a syscall), so a drop never holds the merge long.
    const int64_t now = monotonic_ns();
    if (now - _last_sample_ns >= 100'000) {
        sample_drops();
        if (_peeked + _drops_seen >= issued) {
            return quiet_state::quiet;
        }
    }
    return quiet_state::in_flight;
}

packet_source::arm_state xsk_source::arm(uint32_t batch) {
    if (!_wake_at || !_issued || !_bell) {
        return arm_state::unsupported;
    }
    // From the count now, not from what was peeked: a packet the program
    // counted that never reached the ring (a drop not yet sampled) must not
    // make the target one that has already passed.
    const uint64_t target = __atomic_load_n(_issued, __ATOMIC_ACQUIRE) + batch;
    // A sequentially consistent store, then load (no later load moves above
    // the store: an XCHG on x86); the program does fetch-add (a full
    // barrier), then loads wake_at: one of the two sees the other.
    __atomic_store_n(_wake_at, target, __ATOMIC_SEQ_CST);
    if (backlog() > 0 || __atomic_load_n(_issued, __ATOMIC_SEQ_CST) >= target) {
        return arm_state::ready;
    }
    return arm_state::armed;
}

size_t xsk_source::backlog() const {
    return __atomic_load_n(_rx.producer, __ATOMIC_ACQUIRE) - _rx.cached_cons;
}

void xsk_source::sample_drops() {
    _last_sample_ns = monotonic_ns();
    if (!_xsk) {
        if (_plain_drops && *_plain_drops > _drops_seen) {
            _drops_pending += *_plain_drops - _drops_seen;
            _drops_seen = *_plain_drops;
        }
        return;
    }
    if (auto st = _xsk->statistics()) {
        uint64_t now = xsk_drops(*st, _xsk->zero_copy());
        if (now > _drops_seen) {
            _drops_pending += now - _drops_seen;
            _drops_seen = now;
        }
    }
}

}  // namespace xcap
