#pragma once

#include <cstdint>
#include <cstring>
#include <string>

namespace xcap {

// A piece of a packet that is not in one place (a multi-buffer packet's
// frames in an AF_XDP UMEM): the writers copy the pieces in turn.
struct segment {
    const uint8_t* data;
    uint32_t len;
};

// Copies the first `n` bytes of the pieces to `dst` (n at most their sum).
inline void gather(uint8_t* dst, const segment* s, uint32_t n) {
    while (n > 0) {
        const uint32_t c = s->len < n ? s->len : n;
        std::memcpy(dst, s->data, c);
        dst += c;
        n -= c;
        ++s;
    }
}

// Copies one packet's bytes into an output buffer. The common sizes (a
// minimum frame to a few cache lines) are copied inline in 16-byte pieces,
// the last one overlapping the end, instead of through a call to memcpy:
// at 64 bytes the call and its size dispatch cost more than the copy.
inline void copy_packet(uint8_t* dst, const uint8_t* src, uint32_t n) {
    if (n >= 16 && n <= 128) {
        uint32_t i = 0;
        for (; i + 16 < n; i += 16) {
            std::memcpy(dst + i, src + i, 16);
        }
        std::memcpy(dst + n - 16, src + n - 16, 16);
        return;
    }
    std::memcpy(dst, src, n);
}

// What a capture knows about a packet beyond its bytes. Classic pcap keeps
// none of it; pcapng keeps all of it as Enhanced Packet Block options.
struct packet_meta {
    static constexpr uint32_t no_queue = UINT32_MAX;
    static constexpr int32_t no_verdict = -1;

    uint32_t interface = 0;         // index of the interface (IDB) in the file
    uint32_t queue = no_queue;      // RX queue (epb_queue)
    uint64_t packet_id = 0;         // epb_packetid
    uint64_t dropcount = 0;         // drops on this queue since its previous packet (epb_dropcount)
    int32_t xdp_verdict = no_verdict;  // XDP action (epb_verdict, type eBPF XDP)
    bool inbound = true;            // epb_flags direction
    uint32_t cap = UINT32_MAX;      // store at most this many bytes, besides the snaplen (a filter's `ret k`)
    uint32_t wire_len = 0;          // original length when more than the bytes handed over; 0 = those bytes
    const char* comment = nullptr;  // opt_comment (pcapng only); null = none
    // The packet's bytes in pieces, in place of `data` (which is then the
    // first piece's); null = `data` holds all of them.
    const segment* segs = nullptr;
};

// An interface as pcapng's Interface Description Block describes it.
struct interface_description {
    std::string name;          // if_name
    std::string description;   // if_description
    std::string hardware;      // if_hardware
    std::string filter;        // if_filter (libpcap filter string), "" for none
    uint64_t speed_bps = 0;    // if_speed, 0 when unknown
    uint32_t linktype = 1;     // LINKTYPE_ETHERNET
    uint32_t snaplen = 262144;
};

// What pcapng's Section Header Block says about the capturing machine.
struct section_description {
    std::string hardware;      // shb_hardware, e.g. the CPU model
    std::string os;            // shb_os, e.g. "Linux 6.18.44"
    std::string application;   // shb_userappl, e.g. "xcap 0.1.0"
};

// Counts for pcapng's Interface Statistics Block, cumulative since the start.
struct interface_statistics {
    uint64_t start_ns = 0;     // isb_starttime
    uint64_t end_ns = 0;       // isb_endtime
    uint64_t received = 0;     // isb_ifrecv
    uint64_t dropped = 0;      // isb_ifdrop
};

}  // namespace xcap
