#include "pcap_file.h"

#include <cstring>
#include <fstream>
#include <initializer_list>
#include <iterator>

namespace xcap::test {
namespace {

void append_words(std::vector<uint8_t>& out, std::initializer_list<uint32_t> words) {
    const size_t at = out.size();
    out.resize(at + words.size() * 4);
    std::memcpy(out.data() + at, std::data(words), words.size() * 4);
}

}  // namespace

std::vector<uint8_t> pcap_header_bytes(uint32_t linktype) {
    std::vector<uint8_t> h;
    // 0xa1b23c4d: the nanosecond magic; version 2.4; snaplen 262144.
    append_words(h, {0xa1b23c4d, 2u | 4u << 16, 0, 0, 262144, linktype});
    return h;
}

std::vector<uint8_t> pcap_record_bytes(const pcap_record& record) {
    std::vector<uint8_t> r;
    append_words(r, {uint32_t(record.ts_ns / 1'000'000'000), uint32_t(record.ts_ns % 1'000'000'000),
                     uint32_t(record.data.size()), record.len});
    r.insert(r.end(), record.data.begin(), record.data.end());
    return r;
}

bool write_pcap(const std::string& path, const std::vector<pcap_record>& records, uint32_t linktype) {
    std::ofstream f(path, std::ios::binary);
    auto put = [&](const std::vector<uint8_t>& bytes) {
        f.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
    };
    put(pcap_header_bytes(linktype));
    for (const auto& r : records) {
        put(pcap_record_bytes(r));
    }
    f.close();
    return bool(f);
}

std::vector<pcap_record> as_records(const std::vector<std::vector<uint8_t>>& frames, uint64_t gap_ns,
                                    uint64_t start_ns) {
    std::vector<pcap_record> out;
    out.reserve(frames.size());
    for (size_t i = 0; i < frames.size(); ++i) {
        out.push_back({start_ns + i * gap_ns, uint32_t(frames[i].size()), frames[i]});
    }
    return out;
}

}  // namespace xcap::test
