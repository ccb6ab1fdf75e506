#include "pcap/output.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "common/error.h"

namespace xcap {

output::output(const std::string& path, size_t buffer_size)
    : _name(path == "-" ? "standard output" : path), _size(buffer_size) {
    if (path == "-") {
        _fd = STDOUT_FILENO;
        _is_stdout = true;
    } else {
        _fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (_fd < 0) {
            throw failure(failure_kind::output, errno, "cannot write " + path,
                          "choose a writable path, or -w - for standard output");
        }
        _owns_fd = true;
    }
    _buf = std::make_unique<uint8_t[]>(_size);
}

output::output(int fd, std::string name, size_t buffer_size)
    : _name(std::move(name)), _fd(fd), _size(buffer_size) {
    _buf = std::make_unique<uint8_t[]>(_size);
}

output::~output() {
    flush();
    if (_owns_fd) {
        close(_fd);
    }
}

void output::make_room(size_t n) {
    flush();
    if (n > _size) {
        // A single item larger than the buffer: grow once, at setup sizes.
        auto bigger = std::make_unique<uint8_t[]>(n);
        _buf = std::move(bigger);
        _size = n;
    }
}

bool output::flush() {
    size_t off = 0;
    while (off < _used && _errno == 0) {
        ssize_t n = write(_fd, _buf.get() + off, _used - off);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            _errno = errno;
            break;
        }
        off += size_t(n);
        _written += uint64_t(n);
    }
    _used = 0;
    return _errno == 0;
}

}  // namespace xcap
