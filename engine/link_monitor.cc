#include "engine/link_monitor.h"

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>

#include <cerrno>

#include "common/error.h"

namespace xcap {

link_monitor::link_monitor(unsigned ifindex)
    : _ifindex(ifindex), _fd(socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE)) {
    if (!_fd) {
        throw failure(failure_kind::runtime, errno, "cannot open a netlink socket for link events");
    }
    sockaddr_nl addr{};
    addr.nl_family = AF_NETLINK;
    addr.nl_groups = RTMGRP_LINK;
    if (bind(_fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
        throw failure(failure_kind::runtime, errno, "cannot listen for link events");
    }
}

const link_monitor::state& link_monitor::update() {
    alignas(nlmsghdr) char buf[16384];
    for (;;) {
        ssize_t n = recv(_fd.get(), buf, sizeof(buf), 0);
        if (n < 0) {
            if (errno == ENOBUFS) {
                // Events were lost: ask the kernel directly whether the index lives.
                char name[IF_NAMESIZE];
                if (!if_indextoname(_ifindex, name)) {
                    _state.gone = true;
                }
                continue;
            }
            break;  // EAGAIN: nothing more pending
        }
        for (auto* h = reinterpret_cast<nlmsghdr*>(buf); NLMSG_OK(h, size_t(n)); h = NLMSG_NEXT(h, n)) {
            if (h->nlmsg_type != RTM_NEWLINK && h->nlmsg_type != RTM_DELLINK) {
                continue;
            }
            auto* ifi = static_cast<ifinfomsg*>(NLMSG_DATA(h));
            if (unsigned(ifi->ifi_index) != _ifindex) {
                continue;
            }
            if (h->nlmsg_type == RTM_DELLINK) {
                _state.gone = true;
                continue;
            }
            _state.up = (ifi->ifi_flags & IFF_UP) != 0;
            int len = int(IFLA_PAYLOAD(h));
            for (auto* a = IFLA_RTA(ifi); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
                if (a->rta_type == IFLA_MTU && RTA_PAYLOAD(a) >= sizeof(uint32_t)) {
                    _state.mtu = *static_cast<uint32_t*>(RTA_DATA(a));
                }
            }
        }
    }
    return _state;
}

}  // namespace xcap
