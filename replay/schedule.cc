#include "replay/schedule.h"

#include <cstring>

namespace xcap {
namespace {

uint64_t mix(uint64_t h, const uint8_t* p, size_t n) {
    for (size_t i = 0; i < n; ++i) {
        h = (h ^ p[i]) * 0x100000001b3ull;  // FNV-1a
    }
    return h;
}

// FNV-1a's low bits are weak: the lowest is just the XOR of the bytes' lowest
// bits, so `% 2` can send every flow to one queue. Finish with a full mix.
uint32_t pick(uint64_t h, uint32_t queues) {
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return uint32_t(h % queues);
}

}  // namespace

uint32_t flow_queue(const uint8_t* f, uint32_t len, uint32_t queues) {
    if (queues <= 1) {
        return 0;
    }
    uint64_t h = 0xcbf29ce484222325ull;
    if (len < 14) {
        return pick(mix(h, f, len), queues);
    }
    size_t off = 12;
    uint16_t type = uint16_t(f[off] << 8 | f[off + 1]);
    for (int tags = 0; tags < 2 && (type == 0x8100 || type == 0x88a8) && off + 6 <= len; ++tags) {
        off += 4;
        type = uint16_t(f[off] << 8 | f[off + 1]);
    }
    off += 2;
    size_t l4 = 0;
    uint8_t proto = 0;
    if (type == 0x0800 && off + 20 <= len) {
        const uint8_t* ip = f + off;
        proto = ip[9];
        h = mix(h, ip + 12, 8);  // source and destination
        bool fragment = (uint16_t(ip[6] << 8 | ip[7]) & 0x1fff) != 0;
        l4 = fragment ? 0 : off + size_t(ip[0] & 0x0f) * 4;
    } else if (type == 0x86dd && off + 40 <= len) {
        const uint8_t* ip = f + off;
        proto = ip[6];
        h = mix(h, ip + 8, 32);
        l4 = off + 40;
    } else {
        return pick(mix(h, f, 12), queues);  // the MAC pair
    }
    h = mix(h, &proto, 1);
    if (l4 && (proto == 6 || proto == 17 || proto == 132) && l4 + 4 <= len) {
        h = mix(h, f + l4, 4);  // ports
    }
    return pick(h, queues);
}

}  // namespace xcap
