#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace xcap {

// Whether a cable (or a peer) is there, as libpcap asks it (ETHTOOL_GLINK).
enum class link_status { unknown, connected, disconnected, not_applicable };

// Facts about a network interface, read once at setup through ethtool ioctls
// and sysfs. Plain data; no kernel object is held.
struct device_info {
    std::string name;
    unsigned ifindex = 0;
    bool up = false;
    bool running = false;       // IFF_RUNNING: up with a carrier
    bool loopback = false;      // IFF_LOOPBACK
    bool wireless = false;      // /sys/class/net/NAME/wireless or an 802.11 type, as libpcap decides
    link_status link = link_status::not_applicable;
    std::string alias;          // /sys/class/net/NAME/ifalias, "" when none is set
    uint32_t rx_queues = 1;     // queues XDP can see (combined + rx channels)
    std::string driver;         // "" when the driver does not answer ETHTOOL_GDRVINFO
    std::string driver_version;
    std::string firmware;
    std::string bus;
    int64_t speed_mbps = -1;    // -1 when unknown
    uint32_t mtu = 1500;
    uint32_t tx_queues = 1;
    uint16_t arphrd = 1;        // ARPHRD_* from /sys/class/net/NAME/type (1: Ethernet)
};

// The pcap link type of the frames XDP sees on an interface of hardware type
// `arphrd`: Ethernet for Ethernet and loopback (Ethernet-framed on Linux),
// LINKTYPE_RAW (101) for L3 devices (tun, ipip, gre, sit, wireguard, ...),
// whose frames start at the IP header; 0 when xcap does not know how to
// label them.
uint32_t linktype_for(uint16_t arphrd);

// Reads the interface's facts. Throws failure(interface) when it does not
// exist, with a hint naming `ip link`.
device_info probe_device(const std::string& name);

// The names of this network namespace's interfaces, by ifindex. Throws
// failure(runtime) when the kernel cannot be asked.
std::vector<std::string> interface_names();

// Throws failure(interface) when the interface is not administratively up.
void require_up(const device_info& dev);

// An interface's state and transmit drop count as the kernel has them now,
// asked through rtnetlink: right in xcap's own network namespace, where
// /sys/class/net may show another one's (nsenter does not remount it).
struct link_now {
    bool up = false;           // IFF_UP
    bool carrier = false;      // IFF_LOWER_UP; `ip link` says NO-CARRIER when up without it
    bool running = false;      // IFF_RUNNING: operationally up (RFC 2863)
    std::string operstate;     // "up", "down", "dormant", ... as `ip link` names them
    std::optional<uint64_t> tx_dropped;  // rtnl_link_stats64; none when the kernel gave no statistics
};

// nullopt when the kernel cannot be asked or has no such interface: callers
// use this to warn and to count, never to refuse.
std::optional<link_now> query_link(unsigned ifindex);

}  // namespace xcap
