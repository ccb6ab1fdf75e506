#pragma once

#include <cstdint>
#include <string>

namespace xcap {

// Facts about a network interface, read once at setup through ethtool ioctls
// and sysfs. Plain data; no kernel object is held.
struct device_info {
    std::string name;
    unsigned ifindex = 0;
    bool up = false;
    uint32_t rx_queues = 1;     // queues XDP can see (combined + rx channels)
    std::string driver;         // "" when the driver does not answer ETHTOOL_GDRVINFO
    std::string driver_version;
    std::string firmware;
    std::string bus;
    int64_t speed_mbps = -1;    // -1 when unknown
    uint32_t mtu = 1500;
    uint32_t tx_queues = 1;
};

// Reads the interface's facts. Throws failure(interface) when it does not
// exist, with a hint naming `ip link`.
device_info probe_device(const std::string& name);

// Throws failure(interface) when the interface is not administratively up.
void require_up(const device_info& dev);

}  // namespace xcap
