#include "engine/host_use.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>

#include <fstream>
#include <sstream>

namespace xcap {
namespace {

// /proc/net/route: "Iface Destination Gateway ..." with the destination and
// mask in hex; the default route has both zero.
bool ipv4_default_route(const std::string& ifname) {
    std::ifstream f("/proc/net/route");
    std::string line;
    std::getline(f, line);  // the header
    while (std::getline(f, line)) {
        std::istringstream row(line);
        std::string iface, dest, gateway, flags, refcnt, use, metric, mask;
        if (row >> iface >> dest >> gateway >> flags >> refcnt >> use >> metric >> mask && iface == ifname &&
            dest == "00000000" && mask == "00000000") {
            return true;
        }
    }
    return false;
}

// /proc/net/ipv6_route: destination, prefix length, ..., device last.
bool ipv6_default_route(const std::string& ifname) {
    std::ifstream f("/proc/net/ipv6_route");
    for (std::string line; std::getline(f, line);) {
        std::istringstream row(line);
        std::string dest, plen, word, last;
        if (!(row >> dest >> plen)) {
            continue;
        }
        while (row >> word) {
            last = word;
        }
        if (last == ifname && plen == "00" && dest == std::string(32, '0')) {
            return true;
        }
    }
    return false;
}

}  // namespace

std::string host_use(const std::string& ifname) {
    ifaddrs* list = nullptr;
    std::string address;
    if (getifaddrs(&list) == 0) {
        for (ifaddrs* a = list; a && address.empty(); a = a->ifa_next) {
            if (!a->ifa_addr || !a->ifa_name || ifname != a->ifa_name) {
                continue;
            }
            char text[INET6_ADDRSTRLEN] = {};
            if (a->ifa_addr->sa_family == AF_INET) {
                inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(a->ifa_addr)->sin_addr, text, sizeof(text));
                address = text;
            } else if (a->ifa_addr->sa_family == AF_INET6) {
                const in6_addr& ip = reinterpret_cast<const sockaddr_in6*>(a->ifa_addr)->sin6_addr;
                if (!IN6_IS_ADDR_LINKLOCAL(&ip)) {
                    inet_ntop(AF_INET6, &ip, text, sizeof(text));
                    address = text;
                }
            }
        }
        freeifaddrs(list);
    }
    if (!address.empty()) {
        return "has address " + address;
    }
    if (ipv4_default_route(ifname) || ipv6_default_route(ifname)) {
        return "carries the default route";
    }
    return "";
}

}  // namespace xcap
