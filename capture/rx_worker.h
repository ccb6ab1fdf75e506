#pragma once

#include <atomic>

#include "capture/channel.h"
#include "engine/stop_event.h"
#include "engine/xsk.h"

namespace xcap {

// The RX loop of one queue, run on its own pinned thread.
//
// Moves descriptors from the socket's RX ring to the channel's handoff ring
// in batches and puts returned frames back on the fill ring. It never
// touches packet bytes, never blocks on I/O and never allocates. Once the RX
// ring is drained it sleeps 100 µs (interrupt moderation); after a run of
// empty intervals it blocks in poll() on the socket and the stop event, but only
// while every frame is back on the fill ring.
//
// When a stop is requested (the XDP program is already detached), it drains
// the RX ring until it stays empty for a short grace period, sets
// channel.worker_done and returns.
void run_rx_worker(xsk_queue& xsk, queue_channel& channel, const stop_event& stop);

}  // namespace xcap
