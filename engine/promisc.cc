#include "engine/promisc.h"

#include <linux/if_packet.h>
#include <sys/socket.h>

#include <cerrno>

#include "common/error.h"

namespace xcap {

promiscuous_mode::promiscuous_mode(const std::string& ifname, int ifindex)
    : _sock(socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0)) {
    if (!_sock) {
        throw failure(errno == EPERM || errno == EACCES ? failure_kind::permission : failure_kind::runtime, errno,
                      "cannot open a packet socket to put " + ifname + " in promiscuous mode",
                      "run as root or with CAP_NET_RAW, or leave promiscuous mode off with -p");
    }
    packet_mreq mr{};
    mr.mr_ifindex = ifindex;
    mr.mr_type = PACKET_MR_PROMISC;
    if (setsockopt(_sock.get(), SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof mr) != 0) {
        throw failure(failure_kind::runtime, errno, "cannot put " + ifname + " in promiscuous mode",
                      "leave it off with -p (frames addressed to other hosts are then not captured)");
    }
}

}  // namespace xcap
