#include "engine/device.h"

#include <linux/ethtool.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if_arp.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <utility>

#include "common/error.h"
#include "common/fd.h"

namespace xcap {
namespace {

// An ethtool ioctl on a throwaway socket; returns -errno or 0.
int ethtool(const std::string& name, void* cmd) {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -errno;
    }
    ifreq ifr{};
    std::strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
    ifr.ifr_data = static_cast<char*>(cmd);
    int rc = ioctl(fd, SIOCETHTOOL, &ifr) < 0 ? -errno : 0;
    close(fd);
    return rc;
}

uint32_t sysfs_queues(const std::string& name, const std::string& prefix) {
    std::error_code ec;
    uint32_t n = 0;
    for (const auto& e : std::filesystem::directory_iterator("/sys/class/net/" + name + "/queues", ec)) {
        if (e.path().filename().string().rfind(prefix, 0) == 0) {
            ++n;
        }
    }
    return n;
}

// IF_OPER_* (RFC 2863's order): linux/if.h has them, and it cannot be
// included beside net/if.h.
const char* operstate_name(uint8_t state) {
    static const char* const names[] = {"unknown", "notpresent", "down", "lowerlayerdown", "testing", "dormant", "up"};
    return state < std::size(names) ? names[state] : "unknown";
}

constexpr unsigned iff_lower_up = 1u << 16;  // IFF_LOWER_UP, also only in linux/if.h

}  // namespace

std::optional<link_now> query_link(unsigned ifindex) {
    unique_fd fd(socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
    if (!fd) {
        return std::nullopt;
    }
    struct {
        nlmsghdr h;
        ifinfomsg i;
    } req{};
    req.h.nlmsg_len = sizeof(req);
    req.h.nlmsg_type = RTM_GETLINK;
    req.h.nlmsg_flags = NLM_F_REQUEST;
    req.h.nlmsg_seq = 1;
    req.i.ifi_family = AF_UNSPEC;
    req.i.ifi_index = int(ifindex);
    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    if (sendto(fd.get(), &req, sizeof(req), 0, reinterpret_cast<sockaddr*>(&kernel), sizeof(kernel)) < 0) {
        return std::nullopt;
    }
    alignas(nlmsghdr) char buf[32768];
    ssize_t n = recv(fd.get(), buf, sizeof(buf), 0);
    if (n <= 0) {
        return std::nullopt;
    }
    for (auto* h = reinterpret_cast<nlmsghdr*>(buf); NLMSG_OK(h, size_t(n)); h = NLMSG_NEXT(h, n)) {
        if (h->nlmsg_type != RTM_NEWLINK) {
            continue;  // NLMSG_ERROR: no such interface (any more)
        }
        auto* ifi = static_cast<ifinfomsg*>(NLMSG_DATA(h));
        if (unsigned(ifi->ifi_index) != ifindex) {
            continue;
        }
        link_now link;
        link.up = (ifi->ifi_flags & IFF_UP) != 0;
        link.carrier = (ifi->ifi_flags & iff_lower_up) != 0;
        link.running = (ifi->ifi_flags & IFF_RUNNING) != 0;
        link.operstate = "unknown";
        int len = int(IFLA_PAYLOAD(h));
        for (auto* a = IFLA_RTA(ifi); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
            if (a->rta_type == IFLA_OPERSTATE && RTA_PAYLOAD(a) >= 1) {
                link.operstate = operstate_name(*static_cast<uint8_t*>(RTA_DATA(a)));
            } else if (a->rta_type == IFLA_STATS64 && RTA_PAYLOAD(a) >= sizeof(rtnl_link_stats64)) {
                rtnl_link_stats64 stats;
                std::memcpy(&stats, RTA_DATA(a), sizeof(stats));  // attributes are only 4-byte aligned
                link.tx_dropped = stats.tx_dropped;
            }
        }
        return link;
    }
    return std::nullopt;
}

device_info probe_device(const std::string& name) {
    device_info dev;
    dev.name = name;
    if (name.empty() || name.size() >= IFNAMSIZ) {
        throw failure(failure_kind::interface, "'" + name + "' is not a valid interface name",
                          "list interfaces with `ip link`");
    }
    dev.ifindex = if_nametoindex(name.c_str());
    if (dev.ifindex == 0) {
        throw failure(failure_kind::interface, errno, "no interface '" + name + "'",
                          "list interfaces with `ip link` (in this network namespace)");
    }

    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd >= 0) {
        ifreq ifr{};
        std::strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
        if (ioctl(fd, SIOCGIFFLAGS, &ifr) == 0) {
            dev.up = (ifr.ifr_flags & IFF_UP) != 0;
            dev.running = (ifr.ifr_flags & IFF_RUNNING) != 0;
            dev.loopback = (ifr.ifr_flags & IFF_LOOPBACK) != 0;
        }
        if (ioctl(fd, SIOCGIFMTU, &ifr) == 0 && ifr.ifr_mtu > 0) {
            dev.mtu = uint32_t(ifr.ifr_mtu);
        }
        close(fd);
    }

    ethtool_channels ch{};
    ch.cmd = ETHTOOL_GCHANNELS;
    if (ethtool(name, &ch) == 0 && ch.combined_count + ch.rx_count > 0) {
        dev.rx_queues = ch.combined_count + ch.rx_count;
        dev.tx_queues = ch.combined_count + ch.tx_count > 0 ? ch.combined_count + ch.tx_count : dev.rx_queues;
    } else if (uint32_t n = sysfs_queues(name, "rx-"); n > 0) {
        dev.rx_queues = n;
        dev.tx_queues = sysfs_queues(name, "tx-") ? sysfs_queues(name, "tx-") : n;
    }

    ethtool_drvinfo info{};
    info.cmd = ETHTOOL_GDRVINFO;
    if (ethtool(name, &info) == 0) {
        dev.driver = info.driver;
        dev.driver_version = info.version;
        dev.firmware = info.fw_version;
        dev.bus = info.bus_info;
    }

    std::ifstream type("/sys/class/net/" + name + "/type");
    unsigned arphrd = 0;
    if (type >> arphrd) {
        dev.arphrd = uint16_t(arphrd);
    }

    // As libpcap decides it, so that `xcap -D` and `tcpdump -D` agree.
    std::error_code ec;
    dev.wireless = std::filesystem::exists("/sys/class/net/" + name + "/wireless", ec) ||
                   dev.arphrd == ARPHRD_IRDA || (dev.arphrd >= ARPHRD_IEEE80211 && dev.arphrd <= ARPHRD_IEEE802154) ||
                   dev.arphrd == 805 /* ARPHRD_IEEE802154_MONITOR */ || dev.arphrd == 825 /* ARPHRD_6LOWPAN */;
    if (!dev.loopback) {
        ethtool_value link{};
        link.cmd = ETHTOOL_GLINK;
        int rc = ethtool(name, &link);
        if (rc == 0) {
            dev.link = link.data ? link_status::connected : link_status::disconnected;
        } else {
            dev.link = rc == -EOPNOTSUPP || rc == -EINVAL ? link_status::not_applicable : link_status::unknown;
        }
    }

    std::ifstream alias("/sys/class/net/" + name + "/ifalias");
    std::getline(alias, dev.alias);

    std::ifstream speed("/sys/class/net/" + name + "/speed");
    int64_t mbps = -1;
    if (speed >> mbps && mbps > 0) {
        dev.speed_mbps = mbps;
    }
    return dev;
}

uint32_t linktype_for(uint16_t arphrd) {
    switch (arphrd) {
        case ARPHRD_ETHER:
        case ARPHRD_LOOPBACK:
            return 1;  // LINKTYPE_ETHERNET
        case ARPHRD_NONE:     // tun, wireguard
        case ARPHRD_RAWIP:
        case ARPHRD_TUNNEL:   // ipip
        case ARPHRD_TUNNEL6:  // ip6ip6
        case ARPHRD_SIT:
        case ARPHRD_IPGRE:
        case 823:             // ARPHRD_IP6GRE (not in glibc's net/if_arp.h)
            return 101;  // LINKTYPE_RAW: the frame starts at the IP header
        default:
            return 0;
    }
}

std::vector<std::string> interface_names() {
    struct if_nameindex* list = if_nameindex();
    if (!list) {
        throw failure(failure_kind::runtime, errno, "listing the network interfaces failed",
                      "check that /proc and /sys are mounted");
    }
    std::vector<std::pair<unsigned, std::string>> found;
    for (struct if_nameindex* i = list; i->if_index != 0; ++i) {
        found.emplace_back(i->if_index, i->if_name);
    }
    if_freenameindex(list);
    std::sort(found.begin(), found.end());
    std::vector<std::string> names;
    for (auto& [index, name] : found) {
        names.push_back(std::move(name));
    }
    return names;
}

void require_up(const device_info& dev) {
    if (!dev.up) {
        throw failure(failure_kind::interface, ENETDOWN, "interface " + dev.name + " is down",
                          "bring it up with `ip link set " + dev.name + " up`");
    }
}

}  // namespace xcap
