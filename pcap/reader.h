#pragma once

#include <sys/types.h>

#include <cstdint>
#include <cstdio>
#include <memory>
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
//
// "-" is standard input, read from where it stood when xcap started. A
// regular file there (`< capture.pcap`) reads as a named file does, mapped
// where it can be, and every reader of "-" reads it again from that point.
// Anything else (a pipe, a FIFO, a terminal) can be read once: by one
// reader, which consumes it as it goes, so nothing may read it before.
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

    // Whether another reader of `path` reads it again from its start: a
    // named file and a regular file on standard input, not a pipe.
    static bool can_reread(const std::string& path);

    // Reading a pipe: a wait for more input also ends when `fd` turns
    // readable (an eventfd a stop request writes), and the input then reads
    // as ended there, so a stalled writer cannot hold up a stop. -1: none.
    void interrupt_on(int fd);

private:
    // Classic pcap in a regular file is read straight from a mapping of it:
    // no per-packet copy and no system call per packet. Anything else
    // (pcapng, a pipe, an unusual header) goes through libpcap, and so does
    // the rest of a mapped file from its first record that is not plainly
    // well formed, so errors read exactly as libpcap reports them.
    struct mapped_file {
        const uint8_t* mapping = nullptr;  // the whole file, for munmap
        size_t mapping_size = 0;
        const uint8_t* base = nullptr;     // where the capture starts in it
        size_t size = 0;
        size_t pos = 0;         // the next record's offset
        bool swapped = false;   // written in the other byte order
        bool nano = false;
        uint32_t snaplen = 0;   // the file header's
    };
    // Standard input through libpcap: a stdio stream over descriptor 0 that
    // counts its own position (error messages name byte offsets, even on a
    // pipe, with no system call to ask) and never closes the descriptor.
    struct stdin_stream;
    bool map_classic(const std::string& path);
    bool map_classic_fd(int fd, off_t start);
    bool next_mapped(read_packet& p);
    void open_libpcap();
    void open_standard_input();
    void unmap();

    pcap* _p = nullptr;
    std::string _name;
    std::string _path;
    int _linktype = 0;
    uint64_t _count = 0;
    mapped_file _m;
    // libpcap path: whether the stream can say where the next record starts
    // (for error messages); a named pipe cannot, and asking costs a system call.
    bool _use_ftell = false;
    std::unique_ptr<stdin_stream> _stdin;  // "-" only; outlives the FILE libpcap reads
};

}  // namespace xcap
