#pragma once

#include <cstdint>
#include <cstdio>
#include <stdexcept>
#include <string>

#include "common/error.h"

struct pcap;

namespace xcap {

// A capture file that cannot be read; what() is one line naming the file,
// the packet number and byte offset where that is known, and what is wrong.
// A failure of kind `input` (exit 8).
class read_error : public failure {
public:
    explicit read_error(std::string message)
        : failure(failure_kind::input, std::move(message),
                  "replay needs a readable pcap or pcapng capture of Ethernet frames") {}
};

struct read_packet {
    uint64_t ts_ns = 0;     // wall-clock nanoseconds
    uint32_t caplen = 0;    // bytes present in `data`
    uint32_t len = 0;       // bytes on the wire
    const uint8_t* data = nullptr;  // valid until the next call to next()
};

// Reads pcap and pcapng files through libpcap at nanosecond precision.
// Not thread-safe; one reader per thread.
class capture_reader {
public:
    // Opens `path` ("-" for standard input). Throws read_error.
    explicit capture_reader(const std::string& path);
    // Reads from an open stream (e.g. fmemopen for the fuzzer); takes ownership.
    capture_reader(FILE* stream, std::string name);
    ~capture_reader();
    capture_reader(const capture_reader&) = delete;
    capture_reader& operator=(const capture_reader&) = delete;

    // The next packet, or false at the end of the file. Throws read_error
    // when the file is truncated or corrupt.
    bool next(read_packet& p);

    int linktype() const { return _linktype; }
    // e.g. "EN10MB (Ethernet)".
    std::string linktype_name() const;
    // Throws read_error unless the link type is Ethernet.
    void require_ethernet() const;
    uint64_t packets_read() const { return _count; }
    const std::string& name() const { return _name; }

private:
    pcap* _p = nullptr;
    std::string _name;
    int _linktype = 0;
    uint64_t _count = 0;
};

}  // namespace xcap
