#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

#include "pcap/output.h"
#include "pcap/packet.h"

namespace xcap {

// pcapng (https://www.ietf.org/archive/id/draft-ietf-opsawg-pcapng-02.html),
// written in host byte order as every pcapng writer does; readers detect the
// order from the Section Header Block's byte-order magic.
namespace pcapng {
inline constexpr uint32_t shb_type = 0x0A0D0D0A;
inline constexpr uint32_t idb_type = 0x00000001;
inline constexpr uint32_t isb_type = 0x00000005;
inline constexpr uint32_t epb_type = 0x00000006;
inline constexpr uint32_t byte_order_magic = 0x1A2B3C4D;
// What an Enhanced Packet Block adds to the packet's bytes at most: its
// header (28), flags (8), queue (8), packet id (12), drop count (12) and
// verdict (16) options, end of options (4), trailing length (4), and up to
// 3 bytes of padding (so 95, rounded up). For the -C size bound. A comment
// adds its own length padded to 4, plus 4 (comment_overhead).
inline constexpr uint32_t epb_max_overhead = 96;
inline constexpr uint32_t comment_overhead = 4 + 3;
// An Interface Statistics Block as xcap writes it (start, end, received,
// dropped), which ends every file.
inline constexpr uint32_t isb_size = 76;

inline constexpr uint16_t opt_endofopt = 0;
inline constexpr uint16_t opt_comment = 1;
inline constexpr uint16_t shb_hardware = 2;
inline constexpr uint16_t shb_os = 3;
inline constexpr uint16_t shb_userappl = 4;
inline constexpr uint16_t if_name = 2;
inline constexpr uint16_t if_description = 3;
inline constexpr uint16_t if_speed = 8;
inline constexpr uint16_t if_tsresol = 9;
inline constexpr uint16_t if_filter = 11;
inline constexpr uint16_t if_hardware = 15;
inline constexpr uint16_t epb_flags = 2;
inline constexpr uint16_t epb_dropcount = 4;
inline constexpr uint16_t epb_packetid = 5;
inline constexpr uint16_t epb_queue = 6;
inline constexpr uint16_t epb_verdict = 7;
inline constexpr uint16_t isb_starttime = 2;
inline constexpr uint16_t isb_endtime = 3;
inline constexpr uint16_t isb_ifrecv = 4;
inline constexpr uint16_t isb_ifdrop = 5;

inline constexpr uint8_t verdict_type_xdp = 2;
inline constexpr uint32_t flags_inbound = 0x1;

inline constexpr uint32_t pad4(uint32_t n) { return (n + 3) & ~3u; }
}  // namespace pcapng

// Writes one pcapng section into an output: the Section Header Block and one
// Interface Description Block per interface at construction, then Enhanced
// Packet Blocks, and Interface Statistics Blocks on request. Like
// pcap_writer, each packet is one reserve/commit into the output's buffer.
class pcapng_writer {
public:
    pcapng_writer(output& out, const section_description& section, const std::vector<interface_description>& ifaces,
                  bool nanosecond);

    // Returns true when the packet was cut to the interface's snaplen.
    // Every field is stored straight into the output buffer: assembling the
    // block on the stack and copying it over stalled on store forwarding and
    // cost a quarter more per 64-byte packet.
    bool write(uint64_t ts_ns, const uint8_t* data, uint32_t len, const packet_meta& meta) {
        const uint32_t snaplen = meta.cap < _snaplens[meta.interface] ? meta.cap : _snaplens[meta.interface];
        const uint32_t caplen = len < snaplen ? len : snaplen;
        const uint32_t orig = meta.wire_len > len ? meta.wire_len : len;
        const uint32_t padded = pcapng::pad4(caplen);
        const bool has_queue = meta.queue != packet_meta::no_queue;
        const bool has_drops = meta.dropcount != 0;
        const bool has_verdict = meta.xdp_verdict != packet_meta::no_verdict;
        const uint32_t comment_len = meta.comment ? uint32_t(std::strlen(meta.comment)) & 0xffff : 0;
        const uint32_t total = 28 + padded + 8 + (has_queue ? 8 : 0) + 12 + (has_drops ? 12 : 0) +
                               (has_verdict ? 16 : 0) + (comment_len ? 4 + pcapng::pad4(comment_len) : 0) + 4 + 4;
        uint8_t* p = _out.reserve(total);
        const uint64_t ts = _nano ? ts_ns : ts_ns / 1000;
        put32(p, pcapng::epb_type);
        put32(p + 4, total);
        put32(p + 8, meta.interface);
        put32(p + 12, uint32_t(ts >> 32));
        put32(p + 16, uint32_t(ts));
        put32(p + 20, caplen);
        put32(p + 24, orig);
        put32(p + 28 + (caplen & ~3u), 0);  // the padding; the data overwrites its front
        if (meta.segs) [[unlikely]] {
            gather(p + 28, meta.segs, caplen);
        } else {
            copy_packet(p + 28, data, caplen);
        }
        uint8_t* o = p + 28 + padded;
        o = option32(o, pcapng::epb_flags, meta.inbound ? pcapng::flags_inbound : 0x2);
        if (has_queue) {
            o = option32(o, pcapng::epb_queue, meta.queue);
        }
        o = option64(o, pcapng::epb_packetid, meta.packet_id);
        if (has_drops) {
            o = option64(o, pcapng::epb_dropcount, meta.dropcount);
        }
        if (has_verdict) {
            // Type byte, then the action as a 64-bit value: 9 bytes padded to 12.
            put32(o, pcapng::epb_verdict | 9u << 16);
            o[4] = pcapng::verdict_type_xdp;
            put64(o + 5, uint64_t(uint32_t(meta.xdp_verdict)));
            o[13] = o[14] = o[15] = 0;
            o += 16;
        }
        if (comment_len) {
            put32(o, uint32_t(pcapng::opt_comment) | comment_len << 16);
            put32(o + 4 + (comment_len & ~3u), 0);
            std::memcpy(o + 4, meta.comment, comment_len);
            o += 4 + pcapng::pad4(comment_len);
        }
        put32(o, 0);  // opt_endofopt
        put32(o + 4, total);
        _out.commit(total);
        return caplen < orig;
    }

    void write_statistics(uint32_t interface, const interface_statistics& st);

private:
    static void put32(uint8_t* p, uint32_t v) { std::memcpy(p, &v, 4); }
    static void put64(uint8_t* p, uint64_t v) { std::memcpy(p, &v, 8); }
    static uint8_t* option32(uint8_t* o, uint16_t code, uint32_t v) {
        put32(o, uint32_t(code) | 4u << 16);
        put32(o + 4, v);
        return o + 8;
    }
    static uint8_t* option64(uint8_t* o, uint16_t code, uint64_t v) {
        put32(o, uint32_t(code) | 8u << 16);
        put64(o + 4, v);
        return o + 12;
    }

    output& _out;
    bool _nano;
    std::vector<uint32_t> _snaplens;
};

// Encodes blocks whose size is only known once their options are in (SHB,
// IDB, ISB); exposed for tests.
class pcapng_block {
public:
    explicit pcapng_block(uint32_t type) { u32(type).u32(0); }
    pcapng_block& u8(uint8_t v) { return raw(&v, 1); }
    pcapng_block& u16(uint16_t v) { return raw(&v, 2); }
    pcapng_block& u32(uint32_t v) { return raw(&v, 4); }
    pcapng_block& u64(uint64_t v) { return raw(&v, 8); }
    pcapng_block& raw(const void* p, size_t n) {
        const auto* b = static_cast<const uint8_t*>(p);
        _bytes.insert(_bytes.end(), b, b + n);
        return *this;
    }
    // An option: code, length, value padded to 4 bytes. Empty strings are skipped.
    pcapng_block& option(uint16_t code, const void* value, uint16_t len);
    pcapng_block& option(uint16_t code, const std::string& s);
    // Appends opt_endofopt (when any option was written) and the trailing length.
    const std::vector<uint8_t>& finish();

private:
    std::vector<uint8_t> _bytes;
    bool _has_options = false;
};

}  // namespace xcap
