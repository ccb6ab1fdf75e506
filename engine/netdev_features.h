#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

// The XDP features the kernel reports per interface through the "netdev"
// generic-netlink family (Linux 6.3 and later): which XDP actions the driver
// implements, whether AF_XDP can bind zero-copy, the RX metadata an XDP
// program can read. Read with a raw NETLINK_GENERIC socket (no libnl, no
// ynl). The parsers are pure functions over the kernel's reply bytes so a
// unit test can feed them canned messages; the query is setup-time code on
// the calling thread, with no state kept between calls.
namespace xcap {

// Bits of the xdp-features attribute (enum netdev_xdp_act in the UAPI
// <linux/netdev.h>, which Debian 12's linux-libc-dev does not have yet; the
// values are kernel ABI and never change).
namespace xdp_act {
inline constexpr uint64_t basic = 1;            // XDP_ABORTED, DROP, PASS, TX
inline constexpr uint64_t redirect = 2;         // XDP_REDIRECT
inline constexpr uint64_t ndo_xmit = 4;         // a redirect target (ndo_xdp_xmit)
inline constexpr uint64_t xsk_zerocopy = 8;     // AF_XDP zero-copy
inline constexpr uint64_t hw_offload = 16;
inline constexpr uint64_t rx_sg = 32;           // multi-buffer (fragmented) frames on RX
inline constexpr uint64_t ndo_xmit_sg = 64;     // multi-buffer frames as redirect target
}  // namespace xdp_act

// Attributes and command of the family (also <linux/netdev.h>).
namespace netdev_attr {
enum : uint16_t { ifindex = 1, pad, xdp_features, xdp_zc_max_segs, xdp_rx_metadata_features, xsk_features };
}  // namespace netdev_attr
inline constexpr uint8_t netdev_cmd_dev_get = 1;

// What the kernel said about one interface. An attribute a kernel does not
// send leaves its `has_` false (xdp-zc-max-segs, for one, comes only with
// xsk-zerocopy).
struct netdev_xdp_info {
    uint32_t ifindex = 0;
    uint64_t xdp_features = 0;        // xdp_act bits
    uint64_t rx_metadata = 0;         // timestamp 1, hash 2, vlan-tag 4
    uint64_t xsk_features = 0;        // tx-timestamp 1, tx-checksum 2, tx-launch-time-fifo 4
    uint32_t zc_max_segs = 0;
    bool has_rx_metadata = false;
    bool has_xsk_features = false;
    bool has_zc_max_segs = false;
};

// The answer for every interface of this network namespace.
struct netdev_report {
    bool reported = false;  // false: the kernel has no netdev family (before 6.3)
    std::map<uint32_t, netdev_xdp_info> by_ifindex;
};

// The kernel's names, as ynl prints them: "basic", "redirect", ...; a bit
// without a name is "bit-N". In bit order.
std::vector<std::string> xdp_feature_names(uint64_t bits);
std::vector<std::string> rx_metadata_names(uint64_t bits);
std::vector<std::string> xsk_feature_names(uint64_t bits);

// One netlink reply, split into what a caller needs. A buffer may hold
// several messages; those with another sequence number are skipped.
struct netlink_parse {
    enum status { more, done, failed, malformed } what = more;
    int error = 0;             // positive errno of an NLMSG_ERROR or a failed dump
    bool interrupted = false;  // NLM_F_DUMP_INTR: the dump raced a change; ask again
};

// A CTRL_CMD_GETFAMILY reply: sets `family_id` and whether the family lists
// `wanted_cmd` among its operations (CTRL_ATTR_OPS, nested twice); a kernel
// that lists no operations at all is taken at its word that it has them.
netlink_parse parse_family_reply(const uint8_t* data, size_t len, uint32_t seq, uint16_t& family_id,
                                 uint8_t wanted_cmd, bool& has_cmd);

// One buffer of a NETDEV_CMD_DEV_GET dump from `family_id`: adds every
// device it holds to `out`; `done` once NLMSG_DONE arrives.
netlink_parse parse_dev_dump(const uint8_t* data, size_t len, uint32_t seq, uint16_t family_id,
                             std::map<uint32_t, netdev_xdp_info>& out);

// Asks the kernel. Returns reported = false when the family does not exist
// (or cannot serve dev-get); throws failure (permission for EPERM/EACCES,
// runtime otherwise) when the socket or the query fails.
netdev_report query_netdev_features();

}  // namespace xcap
