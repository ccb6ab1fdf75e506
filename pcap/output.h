#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>

namespace xcap {

class disk_writer;

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
//
// Direct I/O (use_disk()): the buffer is a block of a disk_writer's pool,
// and a flush hands it to the disk_writer's thread instead of write()ing
// it, so the owner never waits on the disk. A flush that does not end on an
// aligned offset keeps the unaligned tail at the front of the next block
// (it is written again, at the aligned offset it starts on). With no free
// block, records go to the pool's spare block and are dropped and counted
// (disk_writer::packets_full), the file staying whole. A failure the writer
// thread meets is seen at the next flush and handled as one here (the file
// cut back to its last whole record, every record after it counted lost).
// The file is complete once finish() (or the destructor) returned.
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
        return _buf + _used;
    }
    void commit(size_t n) { _used += n; }
    void append(const void* p, size_t n) {
        std::memcpy(reserve(n), p, n);
        commit(n);
    }

    // Writes out everything buffered. Returns false once the output has failed.
    // With direct I/O the bytes are on their way, not yet in the file.
    bool flush();
    // flush(), then with direct I/O waits until the bytes are in the file and
    // its length is exact. Returns false once the output has failed.
    bool finish();
    // Before a file's closing statistics: everything buffered is on its
    // way (with direct I/O: the records a full pool made it drop counted,
    // and a block to append to, waiting for one if the pool is full), so
    // the counts the statistics read are final and the output has room for
    // them. Returns false once the output has failed.
    bool settle();

    // Direct I/O, for a file finished while the next one is written:
    // flush(), and leave the rest to the writer thread. Nothing is
    // appended afterwards. The output keeps its descriptor and its counts
    // until done(): every job of it is back (reclaim()), the file
    // complete, or cut back and its losses counted (failed()). The
    // destructor then only closes it.
    void hand_off();
    bool done() const { return _jobs_out == 0; }
    // The finished jobs of `dw`, each to the output that submitted it
    // (which must still exist: see hand_off()), and their blocks back to
    // the pool. Capture thread.
    static void reclaim(disk_writer& dw);

    // Write this regular file with direct I/O through `dw`, before anything
    // is appended. Returns false, and leaves the output as it was, where
    // that cannot be: not a regular file xcap opened, tmpfs or ramfs (the
    // page cache is the file), a file system that refuses O_DIRECT, or no
    // free block; `why` then says which.
    bool use_disk(disk_writer& dw, std::string& why);
    bool direct() const { return _disk != nullptr; }
    // "" or why the file's writes may stall now and then for reasons of
    // its file system (see the definition), for -v.
    std::string stall_caveat() const;

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
    // A regular file this output opened that holds nothing it wrote and
    // nothing from before (it created the file, or emptied it for its
    // first write).
    bool holds_nothing() const { return _is_regular && _written == 0 && (_created || !_truncate_pending); }
    // Removes the file when it holds nothing and this output created it,
    // and its name still names it (not a link the user made, not a file
    // put in its place); true when the file is gone.
    bool remove_if_empty();
    const std::string& name() const { return _name; }
    bool failed() const { return _errno != 0; }
    int error() const { return _errno; }      // errno of the first failed write
    // Bytes that reached the output (after a failure: what the file keeps).
    uint64_t bytes_written() const { return _written; }
    // Written plus buffered: the size the file will have after flush().
    uint64_t bytes_total() const { return _written + _used - _carry; }
    // Packet records dropped because of a failure, and the sum of their
    // lengths on the wire; 0 while the output has not failed.
    uint64_t packets_lost() const { return _packets_lost; }
    uint64_t wire_bytes_lost() const { return _wire_bytes_lost; }

private:
    void make_room(size_t n);
    void drop_buffer(size_t reached);
    bool flush_direct();
    void next_block();
    void examine(const struct disk_job& job);
    void drop_direct(bool full);

    std::string _name;
    int _fd = -1;
    bool _owns_fd = false;
    bool _is_stdout = false;
    bool _is_stream = false;
    bool _is_regular = false;
    bool _created = false;           // the file did not exist: this output made it
    bool _truncate_pending = false;  // an existing regular file, not yet truncated
    bool _abandoned = false;
    bool _handed_off = false;
    std::unique_ptr<uint8_t[]> _own;  // the buffer, without direct I/O
    uint8_t* _buf = nullptr;
    size_t _size = 0;
    disk_writer* _disk = nullptr;  // direct I/O through it; not owned
    uint64_t _block_off = 0;       // direct: the file offset _buf starts at (aligned)
    size_t _carry = 0;             // direct: bytes at _buf's front already written
    bool _discarding = false;      // direct: _buf is the spare block (no block was free)
    uint32_t _jobs_out = 0;        // direct: jobs submitted and not yet back
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
