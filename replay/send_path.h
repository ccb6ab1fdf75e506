#pragma once

#include "engine/device.h"
#include "replay/replay.h"
#include "replay/report.h"

// Which way the packets leave (replay_options::send), and what each way
// needs of the interface and the process. Setup, on the calling thread.
namespace xcap {

// Whether to try XDP live frames first. With --xdp-tx: yes, once what they
// need is there (throws failure: capability, interface down, --queues, a
// driver that reports it transmits no XDP frames). Automatic: yes where
// they can send this run (the setup then checked the same way); otherwise
// no, and -v says why. --no-xdp-tx: no.
bool choose_live_frames(const replay_options& opts, const device_info& dev, const replay_log& log);

// What the AF_XDP socket path needs: the interface up, its capabilities
// (and those of --xdp-mode's program), and --queues TX queues. Throws failure.
void check_socket_setup(const replay_options& opts, const device_info& dev);

}  // namespace xcap
