#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>

namespace xcap {

// A buffered output: a file, or standard output for "-". Bytes are appended
// into one large buffer and reach the kernel in large write()s, when the
// buffer is full or on flush(). Not thread-safe: one writer thread owns it.
//
// After a failed write the output is `failed()`: later writes are dropped and
// counted, never retried, so the capture can stop cleanly with what it has.
class output {
public:
    static constexpr size_t default_buffer = 1 << 20;

    // Opens `path` ("-" for stdout) for writing, truncating it. Throws
    // xcap::failure (kind output) naming the path when it cannot be opened.
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

    bool is_stdout() const { return _is_stdout; }
    const std::string& name() const { return _name; }
    bool failed() const { return _errno != 0; }
    int error() const { return _errno; }      // errno of the first failed write
    uint64_t bytes_written() const { return _written; }
    // Written plus buffered: the size the file will have after flush().
    uint64_t bytes_total() const { return _written + _used; }

private:
    void make_room(size_t n);

    std::string _name;
    int _fd = -1;
    bool _owns_fd = false;
    bool _is_stdout = false;
    std::unique_ptr<uint8_t[]> _buf;
    size_t _size = 0;
    size_t _used = 0;
    uint64_t _written = 0;
    int _errno = 0;
};

}  // namespace xcap
