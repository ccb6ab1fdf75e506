#pragma once

#include "replay/replay.h"
#include "replay/sender.h"

namespace xcap {

// The AF_XDP path: one TX socket and UMEM per queue, the file preloaded into
// the UMEMs when it fits --preload and streamed by a reader thread
// otherwise, one worker thread per queue (tx_worker.h) and this thread
// watching signals, --duration and progress. With --xdp-mode a pass-through
// program is attached while sending. Setup throws failure, with nothing left
// attached; the caller has checked the setup (check_socket_setup).
replay_result send_through_sockets(const replay_run& run);

}  // namespace xcap
