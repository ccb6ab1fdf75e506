#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace xcap::test {

// One record of a capture file the test writes itself.
struct pcap_record {
    uint64_t ts_ns = 0;
    uint32_t len = 0;  // on the wire
    std::vector<uint8_t> data;  // as captured: fewer bytes than `len` when cut by a snaplen
};

// Classic pcap with nanosecond time stamps, in this host's byte order,
// written by hand rather than through xcap's writer or libpcap, so that a
// test can make files neither would (caplen < len, runts, other link types,
// a cut in the middle of a record). The header and each record's bytes are
// given separately for tests that feed a file piece by piece.
std::vector<uint8_t> pcap_header_bytes(uint32_t linktype = 1);
std::vector<uint8_t> pcap_record_bytes(const pcap_record& record);
// The whole file; false when it could not be written.
bool write_pcap(const std::string& path, const std::vector<pcap_record>& records, uint32_t linktype = 1);

// Whole frames as records, the first at `start_ns` and each `gap_ns` after
// the one before.
std::vector<pcap_record> as_records(const std::vector<std::vector<uint8_t>>& frames, uint64_t gap_ns,
                                    uint64_t start_ns = 0);

}  // namespace xcap::test
