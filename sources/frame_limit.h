#pragma once

// Jumbo frames: what an interface can deliver against what xcap's sockets
// take. Without AF_XDP multi-buffer (a kernel before 6.6, or a zero-copy
// driver without it) a socket takes at most one UMEM frame per packet; xcap
// then says so once at start, refuses --xdp-mode native, drops the longer
// frames in its XDP program and counts them as too_large. Pure functions;
// any thread.

#include <cstdint>
#include <string>

#include "engine/device.h"
#include "engine/xdp_attach.h"

namespace xcap {

// The longest frame `dev` can deliver at `mtu`: the MTU plus an Ethernet
// header and one VLAN tag on Ethernet, the MTU alone on IP-only links.
uint32_t largest_frame(const device_info& dev, uint32_t mtu);

// Why the sockets are limited to one frame per packet, for the lines below.
enum class frame_limit_cause { kernel, driver };

// At start, when frames of `dev` can be longer than `limit` bytes (0 = no
// limit: nothing to say): throws failure(unsupported) for --xdp-mode native,
// and otherwise returns the one line to print (naming the MTU and the
// largest frame xcap can capture). "" when every frame fits.
std::string check_frame_limit(const device_info& dev, uint32_t limit, frame_limit_cause cause, xdp_mode mode);

// While capturing: the line for an MTU change to `mtu` that lets frames
// longer than `limit` arrive, or "".
std::string mtu_change_line(const device_info& dev, uint32_t mtu, uint32_t limit);

}  // namespace xcap
