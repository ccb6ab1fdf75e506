#include "pcap/output.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>

#include "common/error.h"

#include "pcap/disk_writer.h"
#include "pcap/pcap_writer.h"
#include "pcap/pcapng_writer.h"

namespace xcap {
namespace {

uint32_t get32(const uint8_t* p) {
    uint32_t v;
    std::memcpy(&v, p, 4);
    return v;
}

struct record_walk {
    size_t whole = 0;      // where the last whole record within `reached` ends
    uint64_t packets = 0;  // packet records not whole within `reached`
    uint64_t wire = 0;     // ... their lengths on the wire
};

// The failure path, and the only place that looks at records: `buf` holds
// whole items from `from` on (see the class comment), the first at offset
// `buf_offset + from` of the stream, whose records start at `records_from`
// (before it: the file headers, appended as one item).
record_walk walk_records(const uint8_t* buf, size_t from, size_t used, size_t reached, uint64_t buf_offset,
                         record_framing framing, uint64_t records_from) {
    record_walk w;
    w.whole = framing == record_framing::none ? reached : from;
    size_t pos = from;
    while (framing != record_framing::none && pos < used) {
        const uint8_t* p = buf + pos;
        const size_t left = used - pos;
        size_t len = 0;
        bool packet = false;
        uint32_t wire = 0;
        if (buf_offset + pos < records_from) {
            len = size_t(records_from - (buf_offset + pos));
        } else if (framing == record_framing::pcap) {
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
            w.whole = pos + len;
        } else if (packet) {
            ++w.packets;
            w.wire += wire;
        }
        pos += len;
    }
    return w;
}

void bump(std::atomic<uint64_t>& c, uint64_t n) { c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }

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
    _own = std::make_unique<uint8_t[]>(_size);
    _buf = _own.get();
}

output::output(int fd, std::string name, size_t buffer_size)
    : _name(std::move(name)), _fd(fd), _size(buffer_size) {
    struct stat st{};
    _is_stream = fd >= 0 && fstat(fd, &st) == 0 && !S_ISREG(st.st_mode);
    _own = std::make_unique<uint8_t[]>(_size);
    _buf = _own.get();
}

output::~output() {
    if (!_abandoned && !_handed_off) {
        finish();
    }
    // finish() and abandon() leave no job in flight; hand_off() waits for
    // done() and gave its block back.
    if (_disk && !_discarding && _buf) {
        _disk->give_back(_buf);
    }
    if (_owns_fd) {
        close(_fd);
    }
}

void output::abandon() {
    if (_disk) {
        _disk->drain();
        reclaim(*_disk);
    }
    _used = _carry;
    _abandoned = true;
    if (_is_regular && !_truncate_pending) {
        unlink(_name.c_str());
    }
    set_failed(ECANCELED);
}

void output::make_room(size_t n) {
    flush();
    if (_disk && _size - _used < n) {
        // A block holds far more than the largest record (savefile_config::disk_block).
        throw std::length_error("an item of " + std::to_string(n) + " bytes is larger than a disk block");
    }
    if (n > _size) {
        // A single item larger than the buffer: grow once, at setup sizes.
        // (Direct I/O blocks are larger than any record.)
        _own = std::make_unique<uint8_t[]>(n);
        _buf = _own.get();
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
    if (_disk) {
        return flush_direct();
    }
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
        ssize_t n = write(_fd, _buf + off, _used - off);
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

// The buffer starts on an item boundary (see the class comment).
void output::drop_buffer(size_t reached) {
    const record_walk w = walk_records(_buf, 0, _used, reached, _flushed, _framing, _records_from);
    const size_t whole = w.whole;
    _packets_lost += w.packets;
    _wire_bytes_lost += w.wire;
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

bool output::use_disk(disk_writer& dw, std::string& why) {
    if (!_is_regular || _used != 0) {
        why = "not a regular file xcap opened";
        return false;
    }
    struct statfs fs{};
    if (fstatfs(_fd, &fs) == 0 && (fs.f_type == TMPFS_MAGIC || fs.f_type == RAMFS_MAGIC)) {
        why = "on tmpfs the page cache is the file";
        return false;
    }
    const int fl = fcntl(_fd, F_GETFL);
    if (fl < 0 || fcntl(_fd, F_SETFL, fl | O_DIRECT) != 0) {
        why = std::string("its file system refuses O_DIRECT (") + std::strerror(errno) + ")";
        return false;
    }
    uint8_t* b = dw.take_block();
    if (b == nullptr) {
        fcntl(_fd, F_SETFL, fl);
        why = "no free block";
        return false;
    }
    _disk = &dw;
    _buf = b;
    _size = dw.pool().block_size();
    _own.reset();
    return true;
}

bool output::remove_if_empty() {
    struct stat by_fd{}, by_name{};
    if (!holds_nothing() || !_created || fstat(_fd, &by_fd) != 0 || lstat(_name.c_str(), &by_name) != 0 ||
        !S_ISREG(by_name.st_mode) || by_name.st_dev != by_fd.st_dev || by_name.st_ino != by_fd.st_ino) {
        return false;
    }
    return unlink(_name.c_str()) == 0 || errno == ENOENT;
}

// ext4 without a journal, mounted with `discard`, discards each block it
// frees before the call that freed it returns. Direct writes free blocks
// as they go: converting the unwritten extents of an appending write can
// fold the extent tree's leaf back into the inode and free it, so an
// occasional write waits for the device to finish a discard, which a
// virtual disk here took up to 0.8 s to do (docs/disk.md). With a journal
// ext4 discards freed metadata blocks after the commit, in its own thread.
std::string output::stall_caveat() const {
    struct stat st{};
    if (_fd < 0 || fstat(_fd, &st) != 0) {
        return "";
    }
    // The kernel's name for the device (vda, vda1, loop0, dm-0) names its
    // directories in /proc/fs/ext4 and /sys/fs/ext4, which exist for the
    // file systems the ext4 driver mounted (ext2 and ext3 included).
    const std::string dev = std::to_string(major(st.st_dev)) + ":" + std::to_string(minor(st.st_dev));
    char target[4096];
    const ssize_t n = readlink(("/sys/dev/block/" + dev).c_str(), target, sizeof(target) - 1);
    if (n <= 0) {
        return "";
    }
    std::string name(target, size_t(n));
    name = name.substr(name.rfind('/') + 1);
    // Every option in force, one per line, those set as the file system's
    // defaults (tune2fs -o) too, which /proc/self/mountinfo leaves out.
    std::ifstream options("/proc/fs/ext4/" + name + "/options");
    bool discard = false;
    for (std::string o; std::getline(options, o);) {
        discard = discard || o == "discard";
    }
    if (!discard) {
        return "";
    }
    // journal_task is "<none>" without a journal; where the kernel has no
    // such file, a journal has a directory NAME-INODE in /proc/fs/jbd2.
    std::ifstream task("/sys/fs/ext4/" + name + "/journal_task");
    if (std::string journal; std::getline(task, journal)) {
        if (journal != "<none>") {
            return "";
        }
    } else if (DIR* d = opendir("/proc/fs/jbd2")) {
        bool journal = false;
        while (const dirent* e = readdir(d)) {
            journal = journal || std::string(e->d_name).rfind(name + "-", 0) == 0;
        }
        closedir(d);
        if (journal) {
            return "";
        }
    }
    return "ext4 without a journal, mounted with discard: blocks it frees while writing are discarded "
           "before the write returns, and a slow discard stalls the writer (--buffer-len absorbs it; "
           "nodiscard and fstrim avoid it)";
}

bool output::finish() {
    flush();
    if (_disk) {
        _disk->drain();
        reclaim(*_disk);
        if (_errno != 0) {
            drop_direct(false);
        }
    }
    return _errno == 0;
}

bool output::settle() {
    if (!flush() || !_disk) {
        return _errno == 0;
    }
    // The flush counted what the spare held. With no block free the
    // statistics would be dropped with the next records: wait for the
    // writer to finish one write, and take its block.
    while (_discarding && _disk->in_flight() > 0) {
        _disk->wait_any();
        if (!flush()) {
            break;
        }
    }
    return _errno == 0;
}

void output::hand_off() {
    flush();
    // What the block holds now is the carried tail, already part of the
    // last job: the block is free.
    if (_disk && !_discarding && _buf) {
        _disk->give_back(_buf);
    }
    _buf = nullptr;
    _size = 0;
    _used = _carry = 0;
    _handed_off = true;
}

void output::reclaim(disk_writer& dw) {
    disk_job j;
    while (dw.reclaim(j)) {
        output* o = j.owner;
        --o->_jobs_out;
        if (j.error != 0) {
            o->examine(j);
        }
        dw.give_back(j.block);
    }
}

// Direct I/O: the block goes to the writer thread; the next one starts with
// the unaligned tail, so every write is aligned and the file grows
// contiguously. Nothing here waits for the disk.
bool output::flush_direct() {
    reclaim(*_disk);
    if (_errno != 0 || _discarding) {
        drop_direct(_errno == 0);
        if (_errno != 0) {
            return false;
        }
        if (uint8_t* b = _disk->take_block()) {
            std::memcpy(b, _buf, _carry);
            _buf = b;
            _discarding = false;
        }
        return true;
    }
    if (_used == _carry) {
        return true;
    }
    if (_truncate_pending) {
        if (ftruncate(_fd, 0) != 0) {
            _errno = errno;
            drop_direct(false);
            return false;
        }
        _truncate_pending = false;
    }
    std::memset(_buf + _used, 0, round_up_direct(_used) - _used);
    disk_job job;
    job.block = _buf;
    job.owner = this;
    job.fd = _fd;
    job.offset = _block_off;
    job.length = uint32_t(_used);
    job.records_from = uint32_t(_carry);
    next_block();
    ++_jobs_out;
    _disk->submit(job);
    return true;
}

void output::next_block() {
    const size_t tail = _used % direct_align;
    uint8_t* b = _disk->take_block();
    if (b == nullptr) {
        b = _disk->spare();  // a burst outlasted the pool: drop, and count, until a block is back
        _discarding = true;
    }
    std::memcpy(b, _buf + _used - tail, tail);
    _written = _block_off + _used;
    _block_off += _used - tail;
    _carry = tail;
    _used = tail;
    _buf = b;
}

// A job the writer could not write (or, after a failure, did not): its
// records past what reached the file are lost; the first failure also cuts
// the file back to its last whole record.
void output::examine(const disk_job& job) {
    const size_t reached = _errno == 0 && job.reached > job.records_from ? job.reached : job.records_from;
    const record_walk w = walk_records(job.block, job.records_from, job.length, reached, job.offset, _framing,
                                       _records_from);
    _packets_lost += w.packets;
    _wire_bytes_lost += w.wire;
    if (_errno == 0) {
        _errno = job.error;
        while (ftruncate(_fd, off_t(job.offset + w.whole)) != 0 && errno == EINTR) {
        }
        _written = job.offset + w.whole;
    }
}

// What the current block holds past the carried tail is dropped: counted
// as lost to a failure, or to a full pool (`full`).
void output::drop_direct(bool full) {
    const record_walk w = walk_records(_buf, _carry, _used, _carry, _block_off, _framing, _records_from);
    if (full) {
        bump(_disk->packets_full, w.packets);
        bump(_disk->wire_bytes_full, w.wire);
    } else {
        _packets_lost += w.packets;
        _wire_bytes_lost += w.wire;
        _written = std::min<uint64_t>(_written, _block_off + _carry);
    }
    _used = _carry;
}

}  // namespace xcap
