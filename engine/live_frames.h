#pragma once

#include <cstdint>
#include <vector>

namespace xcap {

// Runs an XDP program `n` times through BPF_PROG_RUN with
// BPF_F_TEST_XDP_LIVE_FRAMES, each run on a live frame that starts as
// `frame`, as if received on `ifindex`; XDP_TX and redirects go out for
// real (the kernel's way to send without a socket, Linux 5.18+). Returns 0,
// or the errno of the call (EINTR when a signal ended it).
int run_live_frames(int prog_fd, unsigned ifindex, const std::vector<uint8_t>& frame, uint64_t n);

}  // namespace xcap
