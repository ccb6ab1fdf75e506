// The filter differential tests' corpus (see filter_support.h): shared by
// the translator's tests (filter_differential_test.cc) and the trace
// interpreter's (cbpf_test.cc).
#include <linux/filter.h>

#include <algorithm>
#include <cstdio>
#include <iterator>
#include <random>

#include "filter_support.h"
#include "frames.h"
#include "tools.h"

namespace xcap::test {
namespace {

// `inbound`, `outbound` and `ifindex` are left out: libpcap's interpreter
// has no ancillary data and answers 0 for them (FilterTranslate covers them).
const char* const corpus[] = {
    // Protocols and link types; "" and the like compile to a lone `ret #snaplen`.
    "", "ip", "ip6", "arp", "rarp", "tcp", "udp", "icmp", "icmp6", "sctp", "igmp", "pim", "vrrp", "esp", "ah", "ip proto gre",
    "ip proto 47", "ip6 proto 17", "ip proto 89", "ether proto 0x88cc", "ether proto 0x8847", "ether proto 0x0842",
    "stp", "ipx", "decnet", "atalk", "aarp", "iso", "netbeui", "lat", "mopdl", "moprc", "sca", "llc", "clnp", "esis",
    "isis", "ether broadcast", "ether multicast", "ip multicast", "ip6 multicast", "pppoed", "pppoes",
    "pppoes and ip", "carp",
    // Hosts and networks.
    "host 10.0.0.1", "src host 192.168.1.1", "dst host 192.168.1.2", "net 10.0.0.0/8", "src net 192.168.0.0/16",
    "dst net 172.16.0.0/12", "net 224.0.0.0/4", "host ::1", "net 2001:db8::/32", "ip6 net fe80::/10",
    "ether src 00:11:22:33:44:55", "ether dst ff:ff:ff:ff:ff:ff", "ether host 02:00:5e:00:00:01",
    "host 198.18.0.1", "host 198.18.0.2 and udp", "src host 198.18.0.1 or dst host 198.18.0.2", "net 127.0.0.0/8",
    "dst net 10.0.0.0 mask 255.0.0.0", "ip host 1.2.3.4", "arp host 198.18.0.1", "ip6 host 2001:2::1",
    "src net 10.0.0.0/8 and dst net 10.0.0.0/8", "not ether broadcast",
    // Ports.
    "port 80", "tcp port 80", "udp port 53", "port 53", "src port 53", "dst port 53", "tcp dst port 443",
    "tcp src port 22", "port 123", "udp port 67 or udp port 68", "portrange 1-1023", "tcp portrange 8000-8100",
    "udp portrange 5000-6000", "src portrange 1024-65535", "dst portrange 0-100", "port 179", "port 500",
    "port 4500", "sctp port 7", "port 520", "port 1812", "udp port 9", "port 40000",
    "tcp dst port 80 and tcp src port 40001", "ip6 and udp port 9", "udp port 4789", "port 6081", "port 2152",
    "udp port 40003 or udp port 40009", "ip6 and tcp port 80",
    // ICMP types.
    "icmp[icmptype] == icmp-echo", "icmp[icmptype] = icmp-echoreply", "icmp[0] = 8",
    "icmp[icmptype] != icmp-echo and icmp[icmptype] != icmp-echoreply", "icmp6 and ip6[40] = 128",
    "icmp6[icmp6type] = icmp6-echo", "icmp6[icmp6type] == icmp6-neighborsolicit", "icmp[icmpcode] = 3",
    "icmp[icmptype] = icmp-unreach", "icmp and icmp[2:2] != 0", "icmp6[icmp6type] = icmp6-routeradvert",
    // TCP flags and payload.
    "tcp[tcpflags] & tcp-syn != 0", "tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn", "tcp[tcpflags] & tcp-fin != 0",
    "tcp[tcpflags] & tcp-rst != 0", "tcp[13] & 2 != 0", "tcp[13] = 0x18", "tcp[tcpflags] & tcp-push != 0",
    "tcp[tcpflags] & tcp-urg != 0", "tcp[tcpflags] & (tcp-ece|tcp-cwr) != 0", "tcp[12] & 0xf0 > 0x50",
    "tcp[((tcp[12:1] & 0xf0) >> 2):4] = 0x47455420", "tcp[(tcp[12]>>2):4] = 0x48545450",
    "tcp[tcpflags] == tcp-ack", "tcp[4:4] > 0x80000000",
    // Arithmetic: every ALU operation, loads at variable offsets, X = 0.
    "ip[2:2] > 576", "ip[0] & 0xf != 5", "ip[6:2] & 0x1fff != 0", "ip[8] < 64", "ip[9] = 17", "ip[1] & 0xfc = 0xb8",
    "ip[2:2] - ((ip[0]&0xf)<<2) > 100", "ip[0] % 3 = 1", "ip[2:2] / 4 > 100", "ip[2:2] * 2 > 3000",
    "(ip[2:2] + 14) = len", "ip[12:4] ^ ip[16:4] != 0", "ip[12:4] | ip[16:4] = 0", "ip[0] >> 4 = 4",
    "ip[0] << 2 > 0x100", "-ip[8] < 0xffffffc0", "udp[4:2] - 8 > 100", "ip[4:2] = 0", "ip[2:2] & 1 = 1",
    "ether[12:2] > 1500", "ether[0] & 1 = 1", "ether[6:4] = 0x02005e00", "ip6[4:2] > 100", "ip6[6] = 58",
    "ether[len - 1] = 0", "ether[len - 4:4] != 0", "ip[ip[0] & 0xf] > 0", "ip[2:2] / ip[1] > 1",
    "ip[2:2] % ip[1] = 0", "ip[2:2] / ip[8] > 10", "ip[2:2] % (ip[1] & 3) = 0", "ip[0] << (ip[1] & 63) = 0",
    "ip[0] >> (ip[8] & 63) = 0", "ip[16:4] & 0xffffff00 = 0xc6120000", "udp[8:4] = 0", "ip[6] & 0x20 != 0",
    "ip6 and ip6[6] = 0", "ether[12:2] = 0x8100 and ether[14:2] & 0xfff = 100", "ip[2:2] * ip[0] > 20000",
    "ip[8] & ip[9] = 0", "(ip[8] | ip[9]) - ip[8] = ip[9] - (ip[8] & ip[9])", "udp[len - 4:4] = 0",
    // Length.
    "len > 100", "len <= 64", "less 128", "greater 1000", "len = 60", "len >= 1500", "less 60 and arp",
    "greater 200 and ip", "len - 14 = ip[2:2]",
    // VLAN, MPLS, tunnels.
    "vlan", "vlan 100", "vlan and ip", "vlan 101 and udp", "vlan and vlan", "vlan and not ip", "mpls", "mpls 16",
    "mpls and ip", "vlan and tcp port 80", "not vlan", "vlan 4095", "mpls 100 and mpls 200", "geneve",
    "(vlan and udp) or (not vlan and tcp)", "vlan and ip6",
    // Loops: protochain walks IPv6 extension headers.
    "ip6 protochain 6", "ip protochain 17", "ip6 protochain 58", "ip6 protochain 17 or ip6 protochain 44",
    // Combinations and parentheses.
    "tcp and port 80", "tcp or udp", "not tcp", "not (tcp or udp)", "(tcp and port 80) or (udp and port 53)",
    "ip and not icmp", "host 198.18.0.1 and (tcp or icmp)", "arp or icmp or icmp6", "not ip and not ip6",
    "ip6 and not icmp6", "(ip or ip6) and udp", "not arp and not ip and not ip6", "tcp port 80 and len > 100",
    "udp and (port 53 or port 123 or port 67)", "ip[9] = 6 and tcp[13] & 2 != 0", "(ip and udp) or (ip6 and tcp)",
    "not (port 80 or port 443 or port 22)", "ether multicast and not ip6",
    "icmp or (tcp and tcp[tcpflags] & tcp-syn != 0)", "ip and ip[8] > 1 and ip[8] < 255",
    "port 1 or port 2 or port 3 or port 4 or port 5 or port 6 or port 7 or port 8 or port 9 or port 10 or "
    "port 11 or port 12 or port 13 or port 14 or port 15 or port 16 or port 17 or port 18 or port 19 or port 20",
    "not not not tcp", "((((udp))))",
    // Optimised to a lone `ret #snaplen`; and two that never match without
    // libpcap seeing it (where it does see it, as in "tcp and udp", it
    // refuses the expression: FilterCompile covers that).
    "ip or not ip", "1 = 1", "tcp or not tcp", "len < 0", "ip[0] & 0 = 1",
};

}  // namespace

const std::vector<const char*>& filter_corpus() {
    static const std::vector<const char*> v(std::begin(corpus), std::end(corpus));
    return v;
}

// Test frames beside the mixed traffic: every mixed frame cut short at
// several points (loads past the end), and with header bytes changed
// (IPv4 options, fragments, odd flags and ports), deterministically.
std::vector<std::vector<uint8_t>> generated_filter_traffic() {
    std::vector<std::vector<uint8_t>> out;
    uint32_t state = 12345;
    auto next = [&] {
        state = state * 1664525u + 1013904223u;
        return state >> 8;
    };
    for (uint32_t seq = 0; seq < 600; ++seq) {
        out.push_back(build_frame(seq));
    }
    for (uint32_t seq = 0; seq < 60; ++seq) {
        auto f = build_frame(seq);
        for (size_t len : {14, 15, 20, 23, 30, 34, 37, 38, 42, 54, 55, 58}) {
            if (len < f.size()) {
                out.emplace_back(f.begin(), f.begin() + long(len));
            }
        }
    }
    for (uint32_t seq = 0; seq < 600; ++seq) {
        auto f = build_frame(seq);
        int changes = 1 + int(next() % 3);
        for (int c = 0; c < changes; ++c) {
            size_t at = 12 + next() % 50;
            if (at < f.size()) {
                f[at] = uint8_t(next());
            }
        }
        out.push_back(std::move(f));
    }
    return out;
}

random_classic_set random_classic_programs() {
    std::mt19937 rng(20261123);
    auto pick = [&](uint32_t n) { return uint32_t(rng() % n); };
    auto value = [&]() -> uint32_t {
        switch (pick(5)) {
            case 0: return pick(8);
            case 1: return pick(80);
            case 2: return 28 + pick(8);  // around the 32-bit shift limit
            case 3: return 0x80000000u | pick(0x100);
            default: return uint32_t(rng());
        }
    };
    std::vector<std::vector<uint8_t>> frames;
    for (uint32_t seq = 0; seq < 30; ++seq) {
        auto f = build_frame(seq);
        size_t len = seq % 3 == 0 ? 14 + pick(80) : f.size();
        frames.emplace_back(f.begin(), f.begin() + long(std::min(len, f.size())));
    }
    const uint16_t sizes[] = {BPF_B, BPF_H, BPF_W};
    const uint16_t alu_ops[] = {BPF_ADD, BPF_SUB, BPF_MUL, BPF_DIV, BPF_MOD, BPF_AND,
                                BPF_OR,  BPF_XOR, BPF_LSH, BPF_RSH};
    const uint16_t jmp_ops[] = {BPF_JEQ, BPF_JGT, BPF_JGE, BPF_JSET};
    random_classic_set out;
    for (int p = 0; p < 1000; ++p) {
        std::vector<classic_insn> code;
        for (uint32_t m = 0; m < 16; ++m) {
            code.push_back({BPF_LD | BPF_IMM, 0, 0, m * 7 + 1});
            code.push_back({BPF_ST, 0, 0, m});
        }
        code.push_back({BPF_LD | BPF_IMM, 0, 0, 0});
        const size_t body = 4 + pick(36);
        const size_t last = code.size() + body;  // index of the final ret
        while (code.size() < last) {
            const size_t room = last - code.size() - 1;  // instructions between here and the final ret
            classic_insn c{};
            switch (pick(14)) {
                case 0: c = {uint16_t(BPF_LD | sizes[pick(3)] | BPF_ABS), 0, 0, pick(pick(4) ? 40 : 100)}; break;
                case 1: c = {uint16_t(BPF_LD | sizes[pick(3)] | BPF_IND), 0, 0, pick(40)}; break;
                case 2: c = {BPF_LDX | BPF_MSH | BPF_B, 0, 0, pick(40)}; break;
                case 3: c = {uint16_t(pick(2) ? BPF_LD | BPF_IMM : BPF_LDX | BPF_IMM), 0, 0, value()}; break;
                // Few slots, so that loads meet the stores before them.
                case 4: c = {uint16_t(pick(2) ? BPF_LD | BPF_MEM : BPF_LDX | BPF_MEM), 0, 0, pick(3)}; break;
                case 5: c = {uint16_t(pick(2) ? BPF_ST : BPF_STX), 0, 0, pick(3)}; break;
                case 6: c = {uint16_t(pick(2) ? BPF_LD | BPF_W | BPF_LEN : BPF_LDX | BPF_W | BPF_LEN), 0, 0, 0}; break;
                case 7:
                case 8: {
                    uint16_t op = alu_ops[pick(10)];
                    uint32_t k = value();
                    if ((op == BPF_DIV || op == BPF_MOD) && k == 0) {
                        k = 3;  // libpcap 1.10 traps on a constant 0 (its compiler never emits one)
                    }
                    if (op == BPF_LSH || op == BPF_RSH) {
                        k %= 32;  // likewise for constant shifts of 32 or more
                    }
                    c = {uint16_t(BPF_ALU | op | BPF_K), 0, 0, k};
                    break;
                }
                case 9: c = {uint16_t(BPF_ALU | alu_ops[pick(10)] | BPF_X), 0, 0, 0}; break;
                case 10: c = pick(3) ? classic_insn{uint16_t(BPF_MISC | (pick(2) ? BPF_TAX : BPF_TXA)), 0, 0, 0}
                                     : classic_insn{BPF_ALU | BPF_NEG, 0, 0, 0};
                    break;
                case 11:
                case 12:
                    c = {uint16_t(BPF_JMP | jmp_ops[pick(4)] | (pick(2) ? BPF_K : BPF_X)), uint8_t(pick(uint32_t(std::min<size_t>(room, 255)) + 1)),
                         uint8_t(pick(uint32_t(std::min<size_t>(room, 255)) + 1)), value()};
                    break;
                default:
                    if (pick(2)) {
                        c = {BPF_JMP | BPF_JA, 0, 0, pick(uint32_t(room) + 1)};
                    } else {
                        c = {uint16_t(pick(2) ? BPF_RET | BPF_A : BPF_RET | BPF_K), 0, 0, value()};
                    }
            }
            code.push_back(c);
        }
        code.push_back({uint16_t(pick(2) ? BPF_RET | BPF_A : BPF_RET | BPF_K), 0, 0, value()});
        out.programs.push_back({"(random program " + std::to_string(p) + ")", code, UINT32_MAX});
    }
    out.frames = std::move(frames);
    return out;
}

shared_captures load_shared_captures(const std::string& root) {
    shared_captures out;
    const auto files = capture_files(root);
    out.files = files.size();
    for (const auto& name : files) {
        std::string why;
        auto ps = ethernet_packets(root + "/" + name, &why);
        if (!why.empty()) {
            std::printf("skipping %s: %s\n", name.c_str(), why.c_str());
            continue;
        }
        ++out.ethernet_files;
        for (auto& p : ps) {
            out.packets.push_back(std::move(p));
        }
    }
    std::printf("%zu Ethernet captures of %zu, %zu packets\n", out.ethernet_files, out.files, out.packets.size());
    return out;
}

}  // namespace xcap::test
