// libFuzzer target for the capture reader (pcap and pcapng through libpcap):
// any input must give packets whose bytes are really there, or a read_error.
#include <cstdio>

#include "pcap/reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) {
        return 0;  // fmemopen refuses empty buffers
    }
    FILE* f = fmemopen(const_cast<uint8_t*>(data), size, "rb");
    if (!f) {
        return 0;
    }
    try {
        xcap::capture_reader r(f, "fuzz");
        xcap::read_packet p;
        volatile uint8_t sink = 0;
        while (r.next(p)) {
            for (uint32_t i = 0; i < p.caplen; i += 64) {
                sink = sink ^ p.data[i];
            }
            if (p.caplen) {
                sink = sink ^ p.data[p.caplen - 1];
            }
        }
        (void)r.linktype_name();
    } catch (const xcap::read_error&) {
    }
    return 0;
}
