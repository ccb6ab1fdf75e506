#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>

namespace xcap {

// How the bytes after a file's headers are framed, so that a failed write
// can be cut back to the last whole record without tracking records as they
// are written: pcap records (16-byte header with the stored length) or
// pcapng blocks (type, then total length).
enum class record_framing { none, pcap, pcapng };

// A buffered output: a file, or standard output for "-". Bytes are appended
// into one large buffer and reach the kernel in large write()s, when the
// buffer is full or on flush(). Not thread-safe: one writer thread owns it.
//
// Every flush starts on a boundary between appended items (reserve() flushes
// before it hands out room, never in the middle of an item). After a failed
// write the output is `failed()`: it writes nothing more, and what it holds
// and is given later is dropped and counted, never retried, so the capture
// can stop cleanly with what it has. When the framing is known (a writer
// called begin_records()) the failed flush walks the records of its buffer
// once: a file the output opened itself is truncated to the end of the last
// whole record that reached it, and every packet record that did not reach
// it, then or later, is counted in packets_lost(). Nothing is tracked per
// record until then.
class output {
public:
    static constexpr size_t default_buffer = 1 << 20;

    // Opens `path` ("-" for stdout) for writing, creating it if missing.
    // An existing regular file is not truncated here but at the first
    // flush(), so an output that is abandon()ed before it wrote anything
    // leaves the file as it was. Throws xcap::failure (kind output) naming
    // the path when it cannot be opened.
    explicit output(const std::string& path, size_t buffer_size = default_buffer);
    // Wraps an open fd (not closed on destruction); for tests and benchmarks.
    output(int fd, std::string name, size_t buffer_size = default_buffer);
    ~output();
    output(const output&) = delete;
    output& operator=(const output&) = delete;

    // Room for `n` contiguous bytes; the caller fills them and commits.
    uint8_t* reserve(size_t n) {
        if (_size - _used < n) {
            make_room(n);
        }
        return _buf.get() + _used;
    }
    void commit(size_t n) { _used += n; }
    void append(const void* p, size_t n) {
        std::memcpy(reserve(n), p, n);
        commit(n);
    }

    // Writes out everything buffered. Returns false once the output has failed.
    bool flush();

    // Called by a writer once its file headers are appended (in one
    // append, so no flush splits them): what follows is framed as `f`.
    void begin_records(record_framing f) {
        _framing = f;
        _records_from = bytes_total();
    }
    // Drops what is buffered without writing it, for an output whose file
    // turned out not to be wanted: a regular file this output created or
    // already truncated is removed; an existing one it has not written to
    // keeps its bytes. Nothing is written afterwards (not even by the
    // destructor); the output counts as failed (ECANCELED).
    void abandon();

    // Makes a regular file this output opened the user's (fchown), so that
    // it stays theirs once xcap runs as them (-Z). Returns 0 or the errno;
    // 0 for anything else (standard output, a FIFO, a wrapped fd).
    int give_to(uid_t uid, gid_t gid);

    // Marks the output failed with `err` without writing anything, e.g. for a
    // file that could not be opened: what it is given is dropped and counted.
    void set_failed(int err);

    bool is_stdout() const { return _is_stdout; }
    // Standard output or anything not a regular file (FIFO, socket,
    // character device): someone may be reading it as it is written.
    bool is_stream() const { return _is_stream; }
    const std::string& name() const { return _name; }
    bool failed() const { return _errno != 0; }
    int error() const { return _errno; }      // errno of the first failed write
    // Bytes that reached the output (after a failure: what the file keeps).
    uint64_t bytes_written() const { return _written; }
    // Written plus buffered: the size the file will have after flush().
    uint64_t bytes_total() const { return _written + _used; }
    // Packet records dropped because of a failure, and the sum of their
    // lengths on the wire; 0 while the output has not failed.
    uint64_t packets_lost() const { return _packets_lost; }
    uint64_t wire_bytes_lost() const { return _wire_bytes_lost; }

private:
    void make_room(size_t n);
    void drop_buffer(size_t reached);

    std::string _name;
    int _fd = -1;
    bool _owns_fd = false;
    bool _is_stdout = false;
    bool _is_stream = false;
    bool _is_regular = false;
    bool _created = false;           // the file did not exist: this output made it
    bool _truncate_pending = false;  // an existing regular file, not yet truncated
    bool _abandoned = false;
    std::unique_ptr<uint8_t[]> _buf;
    size_t _size = 0;
    size_t _used = 0;
    uint64_t _written = 0;
    uint64_t _flushed = 0;         // bytes that left the buffer, written or dropped
    record_framing _framing = record_framing::none;
    uint64_t _records_from = 0;    // stream offset where the records start
    uint64_t _packets_lost = 0;
    uint64_t _wire_bytes_lost = 0;
    int _errno = 0;
};

}  // namespace xcap
