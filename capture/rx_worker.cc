#include "capture/rx_worker.h"

#include <poll.h>
#include <sys/socket.h>
#include <time.h>

#include "common/counter.h"
#include "engine/cpu.h"

namespace xcap {
namespace {

constexpr uint32_t batch = 256;
// Idle policy, in the manner of interrupt moderation: once the RX ring is
// drained, sleep a fixed interval and let packets gather, so each wake-up is
// paid for by many packets (a busy spin burned a whole core at 1 Mpps and
// starved the writer sharing it). The ring holds as many descriptors as the
// UMEM has frames (16k by default), which covers the interval many times over
// even at 5 Mpps. After a run of empty intervals the worker blocks in poll()
// instead, so an idle capture costs nothing.
constexpr long moderation_ns = 100'000;
constexpr uint32_t empty_intervals_before_poll = 20;
constexpr uint32_t spins_before_sleep = 32;
constexpr int drain_empty_rounds = 3;
// Busy batches between two readings of the socket's drop counters (one
// getsockopt each); the counters are also read after every sleep.
constexpr uint32_t batches_per_drop_sample = 64;

// Returned frames back onto the fill ring. The fill ring has a slot for every
// frame, so the reservation cannot fail.
void refill(xsk_queue& xsk, queue_channel& ch) {
    uint64_t addrs[batch];
    size_t n;
    while ((n = ch.returns.pop(addrs, batch)) > 0) {
        uint32_t idx = 0;
        xsk_ring_prod& fill = xsk.fill();
        if (xsk_ring_prod__reserve(&fill, uint32_t(n), &idx) != n) {
            // Cannot happen while frames are conserved; keep them rather than lose them.
            ch.returns.push(addrs, n);
            return;
        }
        for (size_t i = 0; i < n; ++i) {
            *xsk_ring_prod__fill_addr(&fill, idx + uint32_t(i)) = addrs[i];
        }
        xsk_ring_prod__submit(&fill, uint32_t(n));
    }
    if (xsk_ring_prod__needs_wakeup(&xsk.fill())) {
        // Zero-copy drivers want a kick to look at the fill ring again.
        recvfrom(xsk.fd(), nullptr, 0, MSG_DONTWAIT, nullptr, nullptr);
    }
}

}  // namespace

void run_rx_worker(xsk_queue& xsk, queue_channel& ch, const stop_event& stop) {
    xsk_ring_cons& rx = xsk.rx();
    rx_desc descs[batch];
    uint32_t idle = 0;
    uint32_t empty_intervals = 0;
    // Drops are attributed to the next packet the queue delivers, so pcapng
    // can say how many packets went missing before it (epb_dropcount).
    // The socket's drops also tell the writer's merge that packets the XDP
    // program counted will never arrive (queue_channel::lost).
    uint64_t drops_seen = 0;
    uint64_t drops_pending = 0;
    uint32_t batches = 0;
    bool sample = false;
    auto sample_drops = [&] {
        // A failed read keeps the previous one (the counters only grow).
        if (auto st = xsk.statistics()) {
            uint64_t now = xsk_drops(*st, xsk.zero_copy());
            if (now > drops_seen) {
                drops_pending += now - drops_seen;
                drops_seen = now;
            }
        }
        ch.lost.store(drops_seen + ch.handoff_full.load(std::memory_order_relaxed), std::memory_order_release);
    };
    sample_drops();
    drops_pending = 0;  // before the first packet: nothing to attribute them to
    int empty_rounds = 0;

    for (;;) {
        refill(xsk, ch);
        uint32_t idx = 0;
        uint32_t n = xsk_ring_cons__peek(&rx, batch, &idx);
        if (n == 0) {
            if (stop.requested()) {
                // Detached: nothing new is redirected here, but a packet may
                // still be between the XDP program and the ring. Look again a
                // few times before declaring the queue drained.
                if (++empty_rounds >= drain_empty_rounds) {
                    break;
                }
                timespec ts{0, 1'000'000};
                nanosleep(&ts, nullptr);
                continue;
            }
            if (++idle < spins_before_sleep) {
                cpu_relax();
                continue;
            }
            if (!sample) {
                sample_drops();  // going idle: let the writer's merge see every drop
                sample = true;
            }
            // poll() wakes on RX only, so it is safe only when every frame is
            // back on the fill ring. While the writer still holds frames (a
            // stalled pipe, say), an empty fill ring drops every packet, the
            // RX ring stays empty, and a worker asleep in poll() would never
            // put the returned frames back: keep to timed sleeps then.
            const bool frames_out = xsk_prod_nb_free(&xsk.fill(), xsk.config().frame_count) > 0;
            if (++empty_intervals <= empty_intervals_before_poll) {
                timespec nap{0, moderation_ns};
                nanosleep(&nap, nullptr);
            } else if (frames_out) {
                timespec nap{0, 1'000'000};
                nanosleep(&nap, nullptr);
            } else {
                pollfd fds[2] = {{xsk.fd(), POLLIN, 0}, {stop.fd(), POLLIN, 0}};
                poll(fds, 2, 1000);
            }
            idle = 0;
            continue;
        }
        empty_intervals = 0;
        idle = 0;
        empty_rounds = 0;
        if (sample || ++batches % batches_per_drop_sample == 0) {
            sample_drops();
            sample = false;
        }
        uint64_t bytes = 0;
        for (uint32_t i = 0; i < n; ++i) {
            const xdp_desc* d = xsk_ring_cons__rx_desc(&rx, idx + i);
            descs[i] = rx_desc{d->addr, d->len, 0};
            bytes += d->len;
        }
        if (drops_pending) {
            descs[0].drops_before = drops_pending > UINT32_MAX ? UINT32_MAX : uint32_t(drops_pending);
            drops_pending = 0;
        }
        // Push before release: the writer's merge reads "ring empty, then
        // handoff empty" as "nothing in flight" (see queue_channel).
        size_t pushed = ch.handoff.push(descs, n);
        xsk_ring_cons__release(&rx, n);
        if (ch.writer_bell) {
            ch.writer_bell->ring_if_asleep();
        }
        if (pushed < n) {
            // Not reachable while the rings are as large as the UMEM; if it
            // ever is, the frames go straight back and the loss is counted.
            uint32_t fidx = 0;
            uint32_t k = uint32_t(n - pushed);
            if (xsk_ring_prod__reserve(&xsk.fill(), k, &fidx) == k) {
                for (uint32_t i = 0; i < k; ++i) {
                    *xsk_ring_prod__fill_addr(&xsk.fill(), fidx + i) = descs[pushed + i].addr & ch.frame_mask;
                }
                xsk_ring_prod__submit(&xsk.fill(), k);
            }
            bump(ch.handoff_full, n - pushed);
            ch.lost.store(ch.lost.load(std::memory_order_relaxed) + (n - pushed), std::memory_order_release);
            drops_pending += n - pushed;
        }
        bump(ch.received, n);
        bump(ch.received_bytes, bytes);
    }
    ch.worker_done.store(true, std::memory_order_release);
    if (ch.writer_bell) {
        ch.writer_bell->ring();
    }
}

}  // namespace xcap
