#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace xcap::test {

// The mixed traffic the tests and the demo send: deterministic frames of six
// kinds (UDP, TCP and ICMP over IPv4, UDP over IPv6, ARP, 802.1Q-tagged UDP),
// 60 to 1514 bytes, each ending in an 8-byte trailer "XCAP" + sequence number
// (big-endian) so a captured frame names the frame it was.
// Addresses: 198.18.0.1 → 198.18.0.2 and 2001:2::1 → 2001:2::2 (benchmarking ranges).
enum class frame_kind { udp4, tcp4, icmp4, udp6, arp, vlan_udp4, count };

const char* to_string(frame_kind kind);

frame_kind kind_of(uint32_t seq);

// Frame number `seq`; the same bytes on every call.
std::vector<uint8_t> build_frame(uint32_t seq);

// Frame number `seq` of the jumbo mix: the same kinds, 60 to 9014 bytes
// (9018 with the VLAN tag); every 50th frame has the largest length of its
// kind. For links at MTU 9000.
std::vector<uint8_t> build_jumbo_frame(uint32_t seq);

// A 60-byte UDP frame with sequence `seq`, for floods.
std::vector<uint8_t> build_small_frame(uint32_t seq);

// The sequence number in a frame's trailer, or nullopt when it has none.
std::optional<uint32_t> frame_seq(const uint8_t* data, uint32_t len);

// Which frames of the mixed traffic, numbers [first, first + n), libpcap's
// own filter for `expr` selects (`match`) and which it does not (`other`),
// each taken whole; `error` is libpcap's message when it cannot compile
// `expr` (then both are empty).
struct libpcap_split {
    std::set<uint32_t> match;
    std::set<uint32_t> other;
    std::string error;
};
libpcap_split split_by_libpcap(const std::string& expr, uint32_t first, uint32_t n);

}  // namespace xcap::test
