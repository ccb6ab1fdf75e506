#pragma once

#include <string>

namespace xcap {

// Why the host itself uses an interface, for redirect mode's warning: ""
// when it has no IP address (IPv6 link-local ones do not count: every
// interface with IPv6 on has one) and carries no default route; otherwise
// "has address 192.0.2.1" or "carries the default route". Reads
// getifaddrs(), /proc/net/route and /proc/net/ipv6_route of the caller's
// network namespace; never throws (what it cannot read counts as unused).
std::string host_use(const std::string& ifname);

}  // namespace xcap
