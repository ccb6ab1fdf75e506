#pragma once

#include <cstdint>
#include <cstring>

#include "pcap/output.h"
#include "pcap/packet.h"

namespace xcap {

// Classic libpcap file format (https://www.tcpdump.org/manpages/pcap-savefile.5.html),
// host byte order as libpcap itself writes it.
inline constexpr uint32_t pcap_magic_micro = 0xa1b2c3d4;
inline constexpr uint32_t pcap_magic_nano = 0xa1b23c4d;
inline constexpr uint32_t linktype_ethernet = 1;
inline constexpr uint32_t max_snaplen = 262144;  // tcpdump's MAXIMUM_SNAPLEN

struct pcap_file_header_v2 {
    uint32_t magic;
    uint16_t version_major;  // 2
    uint16_t version_minor;  // 4
    int32_t thiszone;
    uint32_t sigfigs;
    uint32_t snaplen;
    uint32_t linktype;
};

struct pcap_record_header {
    uint32_t ts_sec;
    uint32_t ts_frac;  // microseconds or nanoseconds, by the file's magic
    uint32_t caplen;
    uint32_t len;
};

static_assert(sizeof(pcap_file_header_v2) == 24);
static_assert(sizeof(pcap_record_header) == 16);

// Writes pcap records into an output. No allocation or syscall per packet:
// each record is one reserve/commit on the output's buffer.
class pcap_writer {
public:
    pcap_writer(output& out, uint32_t snaplen, bool nanosecond, uint32_t linktype = linktype_ethernet)
        : _out(out), _snaplen(snaplen), _nano(nanosecond) {
        pcap_file_header_v2 h{nanosecond ? pcap_magic_nano : pcap_magic_micro, 2, 4, 0, 0, snaplen, linktype};
        _out.append(&h, sizeof(h));
        _out.begin_records(record_framing::pcap);
    }

    // One packet: `len` bytes on the wire, of which min(len, snaplen) are
    // stored. `ts_ns` is wall-clock time in nanoseconds since the epoch.
    // Returns true when the packet was cut by the snaplen.
    // `wire_len`, when more than `len`, is the packet's original length (the
    // source handed over only its first `len` bytes).
    // `segs`, when not null, holds the bytes in pieces (see segment).
    bool write(uint64_t ts_ns, const uint8_t* data, uint32_t len, uint32_t cap = UINT32_MAX, uint32_t wire_len = 0,
               const segment* segs = nullptr) {
        const uint32_t limit = cap < _snaplen ? cap : _snaplen;
        uint32_t caplen = len < limit ? len : limit;
        const uint32_t orig = wire_len > len ? wire_len : len;
        uint8_t* p = _out.reserve(sizeof(pcap_record_header) + caplen);
        pcap_record_header h;
        h.ts_sec = uint32_t(ts_ns / 1'000'000'000);
        uint32_t ns = uint32_t(ts_ns % 1'000'000'000);
        h.ts_frac = _nano ? ns : ns / 1000;
        h.caplen = caplen;
        h.len = orig;
        std::memcpy(p, &h, sizeof(h));
        if (segs) [[unlikely]] {
            gather(p + sizeof(h), segs, caplen);
        } else {
            copy_packet(p + sizeof(h), data, caplen);
        }
        _out.commit(sizeof(h) + caplen);
        return caplen < orig;
    }

    // A run of packets in one loop (see savefile_set::write_run): `R` has
    // ts_ns (monotonic, `ts_offset` added), data, len, cap (0 = none),
    // wire_len and segs. Stops early if the output fails. Returns how many
    // were written and adds those the snaplen cut to `cut`.
    template <class R>
    size_t write_run(const R* recs, size_t n, uint64_t ts_offset, uint64_t& cut) {
        size_t i = 0;
        for (; i < n && !_out.failed(); ++i) {
            const R& r = recs[i];
            cut += write(r.ts_ns + ts_offset, r.data, r.len, r.cap ? r.cap : UINT32_MAX, r.wire_len, r.segs);
        }
        return i;
    }

    uint32_t snaplen() const { return _snaplen; }

private:
    output& _out;
    uint32_t _snaplen;
    bool _nano;
};

}  // namespace xcap
