#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "engine/device.h"
#include "engine/netdev_features.h"
#include "engine/xdp_attach.h"

// `xcap -D`: every interface of this network namespace, numbered as tcpdump
// -D numbers them, with what matters for XDP capture there. Gathering reads
// the kernel (setup-time, calling thread); formatting is a pure function.
namespace xcap {

struct interface_entry {
    device_info dev;
    bool features_reported = false;       // the kernel has the netdev family
    std::optional<netdev_xdp_info> xdp;   // its answer for this interface
    std::optional<attached_program> program;
};

// "1.eth0 (alias) [Up, Running, Connected]" and the indented fact lines.
std::string format_interface(size_t number, const interface_entry& e);

// Every interface, by ifindex; one that disappears while being read is left
// out. Throws failure when the kernel cannot be asked at all.
std::vector<interface_entry> gather_interfaces();

// The whole listing, gathered before anything is printed.
std::string list_interfaces_text();

// -J: the time stamp types of `interface`, as tcpdump -J prints them.
// Throws failure when the interface does not exist.
std::string time_stamp_types_text(const std::string& interface);

}  // namespace xcap
