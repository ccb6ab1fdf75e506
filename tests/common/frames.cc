#include "frames.h"

#include <pcap/pcap.h>

#include <cstring>

namespace xcap::test {
namespace {

constexpr uint8_t src_mac[6] = {0x02, 0x00, 0x5e, 0x00, 0x00, 0x01};
constexpr uint8_t dst_mac[6] = {0x02, 0x00, 0x5e, 0x00, 0x00, 0x02};
constexpr uint8_t ip4_src[4] = {198, 18, 0, 1};
constexpr uint8_t ip4_dst[4] = {198, 18, 0, 2};
constexpr uint8_t ip6_src[16] = {0x20, 0x01, 0x00, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
constexpr uint8_t ip6_dst[16] = {0x20, 0x01, 0x00, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
constexpr uint32_t trailer = 8;

uint32_t mix(uint32_t x) {
    x ^= x >> 16;
    x *= 0x7feb352d;
    x ^= x >> 15;
    x *= 0x846ca68b;
    x ^= x >> 16;
    return x;
}

void put16(uint8_t* p, uint16_t v) {
    p[0] = uint8_t(v >> 8);
    p[1] = uint8_t(v);
}
void put32(uint8_t* p, uint32_t v) {
    put16(p, uint16_t(v >> 16));
    put16(p + 2, uint16_t(v));
}

uint32_t sum16(const uint8_t* p, size_t n, uint32_t acc = 0) {
    for (size_t i = 0; i + 1 < n; i += 2) {
        acc += uint32_t(p[i]) << 8 | p[i + 1];
    }
    if (n & 1) {
        acc += uint32_t(p[n - 1]) << 8;
    }
    return acc;
}
uint16_t fold(uint32_t acc) {
    while (acc >> 16) {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    return uint16_t(~acc);
}

// IPv4 header at p, with `l4len` bytes of protocol `proto` after it.
void ipv4(uint8_t* p, uint8_t proto, uint16_t l4len, uint16_t id) {
    p[0] = 0x45;
    p[1] = 0;
    put16(p + 2, uint16_t(20 + l4len));
    put16(p + 4, id);
    put16(p + 6, 0x4000);
    p[8] = 64;
    p[9] = proto;
    std::memcpy(p + 12, ip4_src, 4);
    std::memcpy(p + 16, ip4_dst, 4);
    put16(p + 10, fold(sum16(p, 20)));
}

uint32_t pseudo4(uint8_t proto, uint16_t len) {
    return sum16(ip4_src, 4, sum16(ip4_dst, 4)) + proto + len;
}
uint32_t pseudo6(uint8_t proto, uint16_t len) {
    return sum16(ip6_src, 16, sum16(ip6_dst, 16)) + proto + len;
}

void fill_payload(uint8_t* p, size_t n, uint32_t seq) {
    for (size_t i = 0; i < n; ++i) {
        p[i] = uint8_t(mix(seq * 2654435761u + uint32_t(i)));
    }
}

}  // namespace

const char* to_string(frame_kind kind) {
    switch (kind) {
        case frame_kind::udp4: return "udp4";
        case frame_kind::tcp4: return "tcp4";
        case frame_kind::icmp4: return "icmp4";
        case frame_kind::udp6: return "udp6";
        case frame_kind::arp: return "arp";
        case frame_kind::vlan_udp4: return "vlan-udp4";
        case frame_kind::count: break;
    }
    return "?";
}

frame_kind kind_of(uint32_t seq) { return frame_kind(seq % uint32_t(frame_kind::count)); }

namespace {
std::vector<uint8_t> build(uint32_t seq, uint32_t max_len);
}  // namespace

std::vector<uint8_t> build_frame(uint32_t seq) { return build(seq, 1514); }

std::vector<uint8_t> build_jumbo_frame(uint32_t seq) { return build(seq, 9014); }

namespace {

std::vector<uint8_t> build(uint32_t seq, uint32_t max_len) {
    const frame_kind kind = kind_of(seq);
    uint32_t min_len = 60;
    switch (kind) {
        case frame_kind::tcp4: min_len = 14 + 20 + 20 + trailer; break;
        case frame_kind::udp6: min_len = 14 + 40 + 8 + trailer; break;
        default: break;
    }
    uint32_t len = kind == frame_kind::arp ? 60 : 60 + mix(seq) % (max_len - 60 + 1);
    if (len < min_len) {
        len = min_len;
    }
    if (max_len > 1514 && kind != frame_kind::arp) {
        if (seq % 50 == 0 || seq % 50 == 5) {
            len = max_len;  // the largest of its kind (seq % 50 == 5: a VLAN frame)
        }
        if (kind == frame_kind::vlan_udp4 && len == max_len) {
            len += 4;  // the tag rides on top of the MTU
        }
    }
    std::vector<uint8_t> f(len, 0);
    uint8_t* p = f.data();
    std::memcpy(p, dst_mac, 6);
    std::memcpy(p + 6, src_mac, 6);
    size_t l3 = 14;
    switch (kind) {
        case frame_kind::arp: {
            std::memset(p, 0xff, 6);
            put16(p + 12, 0x0806);
            uint8_t* a = p + 14;
            put16(a, 1);
            put16(a + 2, 0x0800);
            a[4] = 6;
            a[5] = 4;
            put16(a + 6, 1);
            std::memcpy(a + 8, src_mac, 6);
            std::memcpy(a + 14, ip4_src, 4);
            std::memcpy(a + 24, ip4_dst, 4);
            break;
        }
        case frame_kind::udp6: {
            put16(p + 12, 0x86dd);
            uint8_t* ip = p + 14;
            uint16_t l4len = uint16_t(len - 14 - 40);
            ip[0] = 0x60;
            put16(ip + 4, l4len);
            ip[6] = 17;
            ip[7] = 64;
            std::memcpy(ip + 8, ip6_src, 16);
            std::memcpy(ip + 24, ip6_dst, 16);
            uint8_t* u = ip + 40;
            put16(u, uint16_t(40000 + seq % 1000));
            put16(u + 2, 9);
            put16(u + 4, l4len);
            fill_payload(u + 8, l4len - 8 - trailer, seq);
            std::memcpy(u + l4len - trailer, "XCAP", 4);
            put32(u + l4len - 4, seq);
            uint16_t c = fold(pseudo6(17, l4len) + sum16(u, l4len));
            put16(u + 6, c ? c : 0xffff);
            return f;
        }
        case frame_kind::vlan_udp4:
            put16(p + 12, 0x8100);
            put16(p + 14, uint16_t(100 + seq % 8));
            put16(p + 16, 0x0800);
            l3 = 18;
            [[fallthrough]];
        default: {
            if (kind != frame_kind::vlan_udp4) {
                put16(p + 12, 0x0800);
            }
            uint8_t* l4 = p + l3 + 20;
            uint16_t l4len = uint16_t(len - l3 - 20);
            uint8_t proto = kind == frame_kind::tcp4 ? 6 : kind == frame_kind::icmp4 ? 1 : 17;
            ipv4(p + l3, proto, l4len, uint16_t(seq));
            size_t hdr = proto == 6 ? 20 : 8;
            fill_payload(l4 + hdr, l4len - hdr, seq);
            std::memcpy(l4 + l4len - trailer, "XCAP", 4);
            put32(l4 + l4len - 4, seq);
            if (proto == 17) {
                put16(l4, uint16_t(40000 + seq % 1000));
                put16(l4 + 2, 9);
                put16(l4 + 4, l4len);
                uint16_t c = fold(pseudo4(17, l4len) + sum16(l4, l4len));
                put16(l4 + 6, c ? c : 0xffff);
            } else if (proto == 6) {
                put16(l4, uint16_t(40000 + seq % 1000));
                put16(l4 + 2, 80);
                put32(l4 + 4, seq * 1000);
                put32(l4 + 8, 1);
                l4[12] = 5 << 4;
                l4[13] = 0x18;  // PSH|ACK
                put16(l4 + 14, 65535);
                put16(l4 + 16, fold(pseudo4(6, l4len) + sum16(l4, l4len)));
            } else {
                l4[0] = 8;  // echo request
                put16(l4 + 4, 0x7863);
                put16(l4 + 6, uint16_t(seq));
                put16(l4 + 2, fold(sum16(l4, l4len)));
            }
            return f;
        }
    }
    // ARP: the trailer sits in the Ethernet padding.
    std::memcpy(p + len - trailer, "XCAP", 4);
    put32(p + len - 4, seq);
    return f;
}

}  // namespace

std::vector<uint8_t> build_small_frame(uint32_t seq) {
    std::vector<uint8_t> f(60, 0);
    uint8_t* p = f.data();
    std::memcpy(p, dst_mac, 6);
    std::memcpy(p + 6, src_mac, 6);
    put16(p + 12, 0x0800);
    uint16_t l4len = 60 - 14 - 20;
    ipv4(p + 14, 17, l4len, uint16_t(seq));
    uint8_t* u = p + 34;
    put16(u, uint16_t(40000 + seq % 1000));
    put16(u + 2, 9);
    put16(u + 4, l4len);
    std::memcpy(p + 60 - trailer, "XCAP", 4);
    put32(p + 60 - 4, seq);
    return f;
}

std::optional<uint32_t> frame_seq(const uint8_t* data, uint32_t len) {
    if (len < trailer || std::memcmp(data + len - trailer, "XCAP", 4) != 0) {
        return std::nullopt;
    }
    const uint8_t* s = data + len - 4;
    return uint32_t(s[0]) << 24 | uint32_t(s[1]) << 16 | uint32_t(s[2]) << 8 | s[3];
}

libpcap_split split_by_libpcap(const std::string& expr, uint32_t first, uint32_t n) {
    libpcap_split out;
    pcap_t* dead = pcap_open_dead(DLT_EN10MB, 262144);
    bpf_program prog;
    if (pcap_compile(dead, &prog, expr.c_str(), 1, PCAP_NETMASK_UNKNOWN) != 0) {
        out.error = pcap_geterr(dead);
        pcap_close(dead);
        return out;
    }
    for (uint32_t seq = first; seq < first + n; ++seq) {
        auto f = build_frame(seq);
        pcap_pkthdr h{};
        h.caplen = h.len = uint32_t(f.size());
        (pcap_offline_filter(&prog, &h, f.data()) ? out.match : out.other).insert(seq);
    }
    pcap_freecode(&prog);
    pcap_close(dead);
    return out;
}

}  // namespace xcap::test
