#include "pcap/reader.h"

#include <fcntl.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace xcap {
namespace {

constexpr uint32_t magic_micro = 0xa1b2c3d4;
constexpr uint32_t magic_nano = 0xa1b23c4d;
constexpr size_t file_header_size = 24;
constexpr size_t record_header_size = 16;
// libpcap's largest snaplen for Ethernet: a record claiming more is an error there.
constexpr uint32_t max_caplen = 262144;

uint32_t load32(const uint8_t* p, bool swapped) {
    uint32_t v;
    std::memcpy(&v, p, 4);
    return swapped ? __builtin_bswap32(v) : v;
}

uint16_t load16(const uint8_t* p, bool swapped) {
    uint16_t v;
    std::memcpy(&v, p, 2);
    return swapped ? __builtin_bswap16(v) : v;
}

bool regular_stdin(off_t* start = nullptr, off_t* size = nullptr) {
    struct stat st{};
    if (fstat(STDIN_FILENO, &st) != 0 || !S_ISREG(st.st_mode)) {
        return false;
    }
    if (start) {
        // Where the shell (or whoever ran xcap) left it. Nothing in xcap moves
        // it: readers map it or read it with pread.
        const off_t at = lseek(STDIN_FILENO, 0, SEEK_CUR);
        *start = at < 0 ? 0 : std::min<off_t>(at, st.st_size);
    }
    if (size) {
        *size = st.st_size;
    }
    return true;
}

}  // namespace

struct capture_reader::stdin_stream {
    bool regular = false;
    off_t start = 0;         // regular: the capture's first byte in the file
    uint64_t pos = 0;        // bytes handed to stdio so far
    int interrupt_fd = -1;
    bool interrupted = false;

    static ssize_t read(void* cookie, char* buf, size_t n) {
        auto* s = static_cast<stdin_stream*>(cookie);
        for (;;) {
            if (!s->regular && s->interrupt_fd >= 0 && !s->wait_readable()) {
                return 0;  // stopped: the input ends here
            }
            ssize_t got = s->regular ? pread(STDIN_FILENO, buf, n, s->start + off_t(s->pos))
                                     : ::read(STDIN_FILENO, buf, n);
            if (got < 0 && errno == EINTR) {
                continue;
            }
            if (got > 0) {
                s->pos += uint64_t(got);
            }
            return got;
        }
    }

    // A pipe: whether standard input has something to read (or its end)
    // before the interrupt descriptor turns readable.
    bool wait_readable() {
        if (interrupted) {
            return false;
        }
        pollfd fds[2] = {{STDIN_FILENO, POLLIN, 0}, {interrupt_fd, POLLIN, 0}};
        for (;;) {
            int rc = poll(fds, 2, -1);
            if (rc < 0 && errno == EINTR) {
                continue;
            }
            if (rc > 0 && fds[1].revents) {
                interrupted = true;
                return false;
            }
            return true;  // data, its end, or an error that read() will report
        }
    }

    // stdio asks for the position (ftell); a regular file may also seek. A
    // pipe cannot, and says so as lseek would.
    static int seek(void* cookie, off64_t* offset, int whence) {
        auto* s = static_cast<stdin_stream*>(cookie);
        int64_t to = 0;
        if (whence == SEEK_SET) {
            to = *offset;
        } else if (whence == SEEK_CUR) {
            to = int64_t(s->pos) + *offset;
        } else if (off_t size = 0; whence == SEEK_END && s->regular && regular_stdin(nullptr, &size)) {
            to = int64_t(size - s->start) + *offset;
        } else {
            errno = s->regular ? EINVAL : ESPIPE;
            return -1;
        }
        if (to < 0 || (!s->regular && uint64_t(to) != s->pos)) {
            errno = s->regular ? EINVAL : ESPIPE;
            return -1;
        }
        s->pos = uint64_t(to);
        *offset = to;
        return 0;
    }

    // Descriptor 0 stays open: it is the process's, not the reader's.
    static int close(void*) { return 0; }
};

capture_reader::capture_reader(const std::string& path)
    : _name(path == "-" ? "standard input" : path), _path(path) {
    if (path == "-") {
        open_standard_input();
        return;
    }
    if (map_classic(path)) {
        return;
    }
    open_libpcap();
}

bool capture_reader::can_reread(const std::string& path) {
    return path != "-" || regular_stdin();
}

void capture_reader::interrupt_on(int fd) {
    if (_stdin) {
        _stdin->interrupt_fd = fd;
    }
}

void capture_reader::open_standard_input() {
    _stdin = std::make_unique<stdin_stream>();
    _stdin->regular = regular_stdin(&_stdin->start);
    if (_stdin->regular && map_classic_fd(STDIN_FILENO, _stdin->start)) {
        return;
    }
    open_libpcap();
}

capture_reader::capture_reader(FILE* stream, std::string name) : _name(std::move(name)) {
    char err[PCAP_ERRBUF_SIZE] = {};
    _p = pcap_fopen_offline_with_tstamp_precision(stream, PCAP_TSTAMP_PRECISION_NANO, err);
    if (!_p) {
        fclose(stream);
        throw read_error(_name + ": " + err);
    }
    _linktype = pcap_datalink(_p);
    _use_ftell = true;  // an in-memory stream answers without a system call
}

capture_reader::~capture_reader() {
    if (_p) {
        pcap_close(_p);
    }
    unmap();
}

void capture_reader::unmap() {
    if (_m.mapping) {
        munmap(const_cast<uint8_t*>(_m.mapping), _m.mapping_size);
        _m.mapping = nullptr;
        _m.base = nullptr;
    }
}

bool capture_reader::map_classic(const std::string& path) {
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return false;  // libpcap says why, in its words
    }
    const bool mapped = map_classic_fd(fd, 0);
    close(fd);
    return mapped;
}

bool capture_reader::map_classic_fd(int fd, off_t start) {
    struct stat st{};
    void* base = MAP_FAILED;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size >= start &&
        size_t(st.st_size - start) >= file_header_size) {
        base = mmap(nullptr, size_t(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
    }
    if (base == MAP_FAILED) {
        return false;
    }
    madvise(base, size_t(st.st_size), MADV_SEQUENTIAL);
    _m.mapping = static_cast<const uint8_t*>(base);
    _m.mapping_size = size_t(st.st_size);
    _m.base = _m.mapping + start;
    _m.size = size_t(st.st_size - start);
    const uint32_t magic = load32(_m.base, false);
    _m.swapped = magic == __builtin_bswap32(magic_micro) || magic == __builtin_bswap32(magic_nano);
    _m.nano = magic == magic_nano || magic == __builtin_bswap32(magic_nano);
    const bool known = _m.swapped || magic == magic_micro || magic == magic_nano;
    const uint16_t major = load16(_m.base + 4, _m.swapped);
    const uint16_t minor = load16(_m.base + 6, _m.swapped);
    _m.snaplen = load32(_m.base + 16, _m.swapped);
    const uint32_t linktype = load32(_m.base + 20, _m.swapped);
    // Only the plain case: version 2.4, a sane snaplen, Ethernet with no FCS
    // bits. libpcap reads everything else, and reports it its own way.
    if (!known || major != 2 || minor != 4 || _m.snaplen == 0 || _m.snaplen > max_caplen || linktype != DLT_EN10MB) {
        unmap();
        return false;
    }
    _linktype = DLT_EN10MB;
    _m.pos = file_header_size;
    return true;
}

void capture_reader::open_libpcap() {
    char err[PCAP_ERRBUF_SIZE] = {};
    if (!_stdin) {
        _p = pcap_open_offline_with_tstamp_precision(_path.c_str(), PCAP_TSTAMP_PRECISION_NANO, err);
        if (!_p) {
            throw read_error(_name + ": " + err);
        }
        _linktype = pcap_datalink(_p);
        struct stat st{};
        _use_ftell = fstat(fileno(pcap_file(_p)), &st) == 0 && S_ISREG(st.st_mode);
        return;
    }
    // Not libpcap's own "-": its stdio buffer would take bytes past the
    // header out of the pipe, and a second reader would start mid-stream.
    // This stream starts where standard input stood, and a reader of a
    // regular file reads it from there again (pread moves no offset).
    _stdin->pos = 0;
    FILE* f = fopencookie(_stdin.get(), "r",
                          cookie_io_functions_t{stdin_stream::read, nullptr, stdin_stream::seek, stdin_stream::close});
    if (!f) {
        throw read_error(_name + ": cannot read it: " + std::strerror(errno));
    }
    setvbuf(f, nullptr, _IOFBF, 1 << 16);  // a pipe's whole buffer in one read
    _p = pcap_fopen_offline_with_tstamp_precision(f, PCAP_TSTAMP_PRECISION_NANO, err);
    if (!_p) {
        const bool empty = _stdin->pos == 0 && feof(f);
        fclose(f);
        if (empty) {
            throw read_error(_name + ": empty (0 bytes), not a pcap or pcapng capture");
        }
        throw read_error(_name + ": " + err);
    }
    _linktype = pcap_datalink(_p);
    _use_ftell = true;  // the stream counts its position: no system call
}

bool capture_reader::next_mapped(read_packet& p) {
    const size_t pos = _m.pos;
    if (pos == _m.size) {
        return false;  // the end, on a record boundary
    }
    if (_m.size - pos >= record_header_size) {
        const uint8_t* h = _m.base + pos;
        const uint32_t caplen = load32(h + 8, _m.swapped);
        if (caplen <= _m.snaplen && _m.size - pos - record_header_size >= caplen) {
            const uint64_t sec = load32(h, _m.swapped);
            const uint64_t frac = load32(h + 4, _m.swapped);
            p.ts_ns = sec * 1'000'000'000 + (_m.nano ? frac : frac * 1000);
            p.caplen = caplen;
            p.len = load32(h + 12, _m.swapped);
            p.data = h + record_header_size;
            _m.pos = pos + record_header_size + caplen;
            ++_count;
            return true;
        }
    }
    // Not plainly well formed (cut short, or longer than the snaplen): from
    // here libpcap reads, skipping the records already delivered, so the
    // file reads, and fails, exactly as it does everywhere else.
    unmap();
    open_libpcap();
    pcap_pkthdr* hdr = nullptr;
    const u_char* d = nullptr;
    for (uint64_t i = 0; i < _count; ++i) {
        if (pcap_next_ex(_p, &hdr, &d) != 1) {
            throw read_error(_name + ": packet " + std::to_string(i + 1) + " changed while it was read");
        }
    }
    return next(p);
}

bool capture_reader::next(read_packet& p) {
    if (_m.base) {
        return next_mapped(p);
    }
    // The offset of the record about to be read, for the error message.
    long offset = _use_ftell ? ftell(pcap_file(_p)) : -1;
    pcap_pkthdr* h = nullptr;
    const u_char* d = nullptr;
    int rc = pcap_next_ex(_p, &h, &d);
    if (rc == 1) {
        ++_count;
        p.ts_ns = uint64_t(h->ts.tv_sec) * 1'000'000'000 + uint64_t(h->ts.tv_usec);
        p.caplen = h->caplen;
        p.len = h->len;
        p.data = d;
        return true;
    }
    if (rc == PCAP_ERROR_BREAK) {
        return false;
    }
    std::string where = _name + ": packet " + std::to_string(_count + 1);
    if (offset >= 0) {
        where += " at byte " + std::to_string(offset);
    }
    throw read_error(where + ": " + pcap_geterr(_p));
}

std::string capture_reader::linktype_name() const {
    const char* name = pcap_datalink_val_to_name(_linktype);
    const char* desc = pcap_datalink_val_to_description(_linktype);
    std::string s = name ? name : "DLT " + std::to_string(_linktype);
    if (desc) {
        s += std::string(" (") + desc + ")";
    }
    return s;
}

void capture_reader::require_ethernet() const {
    if (_linktype != DLT_EN10MB) {
        throw read_error(_name + ": link type " + linktype_name() + " is not Ethernet; only Ethernet captures can be sent");
    }
}

}  // namespace xcap
