#include "pcap/output.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "common/error.h"

#include "pcap/pcap_writer.h"
#include "pcap/pcapng_writer.h"

namespace xcap {
namespace {

uint32_t get32(const uint8_t* p) {
    uint32_t v;
    std::memcpy(&v, p, 4);
    return v;
}

}  // namespace

output::output(const std::string& path, size_t buffer_size)
    : _name(path == "-" ? "standard output" : path), _size(buffer_size) {
    if (path == "-") {
        _fd = STDOUT_FILENO;
        _is_stdout = true;
    } else {
        // Created here, or opened as it is: truncation waits for the first
        // write, so a capture refused later leaves earlier work alone.
        _fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        _created = _fd >= 0;
        if (_fd < 0 && errno == EEXIST) {
            _fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
        }
        if (_fd < 0) {
            throw failure(failure_kind::output, errno, "cannot write " + path,
                          "choose a writable path, or -w - for standard output");
        }
        _owns_fd = true;
    }
    // A reader may be waiting on anything but a regular file, and standard
    // output is a stream even when redirected to a file: both get flushed
    // when the writer goes idle. Only a file opened here (so at offset 0,
    // not shared) is ever truncated.
    struct stat st{};
    const bool regular = fstat(_fd, &st) == 0 && S_ISREG(st.st_mode);
    _is_stream = _is_stdout || !regular;
    _is_regular = regular && _owns_fd;
    _truncate_pending = _is_regular && !_created;
    _buf = std::make_unique<uint8_t[]>(_size);
}

output::output(int fd, std::string name, size_t buffer_size)
    : _name(std::move(name)), _fd(fd), _size(buffer_size) {
    struct stat st{};
    _is_stream = fd >= 0 && fstat(fd, &st) == 0 && !S_ISREG(st.st_mode);
    _buf = std::make_unique<uint8_t[]>(_size);
}

output::~output() {
    if (!_abandoned) {
        flush();
    }
    if (_owns_fd) {
        close(_fd);
    }
}

void output::abandon() {
    _used = 0;
    _abandoned = true;
    if (_is_regular && !_truncate_pending) {
        unlink(_name.c_str());
    }
    set_failed(ECANCELED);
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

int output::give_to(uid_t uid, gid_t gid) {
    if (!_owns_fd || !_is_regular || _fd < 0) {
        return 0;
    }
    return fchown(_fd, uid, gid) == 0 ? 0 : errno;
}

void output::set_failed(int err) {
    if (_errno == 0) {
        _errno = err;
    }
}

bool output::flush() {
    if (_errno != 0) {
        drop_buffer(0);
        return false;
    }
    if (_truncate_pending && _used > 0) {
        if (ftruncate(_fd, 0) != 0) {
            _errno = errno;
            drop_buffer(0);
            return false;
        }
        _truncate_pending = false;
    }
    size_t off = 0;
    while (off < _used) {
        ssize_t n = write(_fd, _buf.get() + off, _used - off);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            _errno = errno;
            drop_buffer(off);
            return false;
        }
        off += size_t(n);
    }
    _written += _used;
    _flushed += _used;
    _used = 0;
    return true;
}

// The failure path, and the only place that looks at records: the buffer
// starts on an item boundary (see the class comment), so walking its
// records from the front finds where the last whole one ends within the
// `reached` bytes that got out, and counts the packets after it.
void output::drop_buffer(size_t reached) {
    size_t whole = _framing == record_framing::none ? reached : 0;
    size_t pos = 0;
    while (_framing != record_framing::none && pos < _used) {
        const uint8_t* p = _buf.get() + pos;
        const size_t left = _used - pos;
        size_t len = 0;
        bool packet = false;
        uint32_t wire = 0;
        if (_flushed + pos < _records_from) {
            len = size_t(_records_from - (_flushed + pos));  // the file headers, appended as one item
        } else if (_framing == record_framing::pcap) {
            if (left < sizeof(pcap_record_header)) {
                break;
            }
            len = sizeof(pcap_record_header) + get32(p + offsetof(pcap_record_header, caplen));
            packet = true;
            wire = get32(p + offsetof(pcap_record_header, len));
        } else {
            if (left < 12) {
                break;
            }
            len = get32(p + 4);
            packet = get32(p) == pcapng::epb_type;
            wire = packet && left >= 28 ? get32(p + 24) : 0;
        }
        if (len == 0 || len > left) {
            break;  // not written by our writers; count nothing rather than guess
        }
        if (pos + len <= reached) {
            whole = pos + len;
        } else if (packet) {
            ++_packets_lost;
            _wire_bytes_lost += wire;
        }
        pos += len;
    }
    if (whole < reached && _is_regular) {
        // Best effort: should this fail too, the file ends in a partial
        // record, as it would have without the walk.
        while (ftruncate(_fd, off_t(_written + whole)) != 0 && errno == EINTR) {
        }
    }
    _written += whole;
    _flushed += _used;
    _used = 0;
}

}  // namespace xcap
