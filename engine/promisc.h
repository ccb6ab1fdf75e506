#pragma once

#include <string>

#include "common/fd.h"

namespace xcap {

// Promiscuous mode on one interface for as long as this object lives, held
// the way tcpdump holds it: a PACKET_MR_PROMISC membership on a packet
// socket. The kernel counts such memberships and drops this one when the
// socket closes, so the interface's promiscuity goes back to what it was
// however xcap ends (kill -9 and the OOM killer included); setting
// IFF_PROMISC directly would stay on after a crash.
//
// The socket is opened with protocol 0: it is bound to no protocol and
// receives nothing, so it costs nothing per packet.
//
// Setup only; not thread-safe (and never needs to be).
class promiscuous_mode {
public:
    // Throws failure(runtime) naming the interface when the kernel refuses.
    promiscuous_mode(const std::string& ifname, int ifindex);

private:
    unique_fd _sock;
};

}  // namespace xcap
