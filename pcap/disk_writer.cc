#include "pcap/disk_writer.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>

#include "common/error.h"

namespace xcap {

block_pool::block_pool(size_t total_bytes, size_t block_size) : _block(round_up_direct(block_size)) {
    _count = total_bytes / _block < 2 ? 2 : total_bytes / _block;
    _bytes = _count * _block;
    // Reserved huge pages (vm.nr_hugepages) when the pool fits them: no TLB
    // misses and no page faults while copying. Few systems reserve any, so
    // the normal case is the fallback with transparent huge pages.
    void* p = mmap(nullptr, _bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
    _huge = p != MAP_FAILED;
    if (!_huge) {
        p = mmap(nullptr, _bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) {
            throw failure(failure_kind::output, errno,
                          "cannot map " + std::to_string(_bytes >> 20) + " MiB for the disk buffer",
                          "give a smaller --buffer-len");
        }
        madvise(p, _bytes, MADV_HUGEPAGE);
    }
    _memory = unique_mapping(static_cast<uint8_t*>(p), unmapper{_bytes});
}

void block_pool::populate() const { madvise(_memory.get(), _bytes, MADV_POPULATE_WRITE); }

disk_writer::disk_writer(size_t pool_bytes, size_t block_size) : _pool(pool_bytes, block_size) {
    // Every page is faulted in now, during set-up: not by the capture
    // thread when the disk falls behind and it reaches blocks it has not
    // used yet (a page fault per 4 KiB, zeroing each page; on a VM the
    // host's fault as well), and not by this thread beside a capture that
    // has begun (2 GiB take seconds of CPU, on the capture's core).
    _pool.populate();
    // One slot more than the blocks, for the job that stops the thread.
    _todo.resize(_pool.count() + 1);
    _done.resize(_pool.count() + 1);
    // Taken from the back: the first blocks are reused first, so a capture
    // that keeps up touches only a few of them.
    for (size_t i = _pool.count() - 1; i-- > 0;) {
        _free.push_back(_pool.block(i));
    }
}

// The thread starts with the first job, from the thread that submits it:
// the capture thread, which xcap starts once it has given up its
// privileges (-Z, file capabilities). Capabilities belong to each thread
// and a new one inherits its creator's, so this one holds none of what
// xcap gave up; the thread needs none, it writes to descriptors opened for
// it.
void disk_writer::start() {
    // Signals are the main thread's to take (xcap blocks its stop signals
    // there): one delivered here would end the process. The thread starts
    // with every signal blocked.
    sigset_t all, was;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &was);
    _thread = std::thread([this] {
        pthread_setname_np(pthread_self(), "xcap-disk");
        run();
    });
    pthread_sigmask(SIG_SETMASK, &was, nullptr);
}

disk_writer::~disk_writer() {
    if (!_thread.joinable()) {
        return;  // no job was ever submitted
    }
    disk_job stop;
    submit(stop);
    _thread.join();
}

uint8_t* disk_writer::take_block() {
    if (_free.empty()) {
        return nullptr;
    }
    uint8_t* b = _free.back();
    _free.pop_back();
    return b;
}

void disk_writer::submit(const disk_job& job) {
    if (!_thread.joinable()) {
        start();
    }
    _todo[_submitted % _todo.size()] = job;
    ++_submitted;
    _todo_head.store(_submitted, std::memory_order_release);
    _todo_head.notify_one();
}

bool disk_writer::reclaim(disk_job& job) {
    if (_reclaimed == _done_head.load(std::memory_order_acquire)) {
        return false;
    }
    job = _done[_reclaimed % _done.size()];
    ++_reclaimed;
    return true;
}

void disk_writer::drain() {
    for (uint32_t d; (d = _done_head.load(std::memory_order_acquire)) != _submitted;) {
        _done_head.wait(d, std::memory_order_acquire);
    }
}

void disk_writer::wait_any() {
    for (uint32_t d; (d = _done_head.load(std::memory_order_acquire)) == _reclaimed && _reclaimed != _submitted;) {
        _done_head.wait(d, std::memory_order_acquire);
    }
}

void disk_writer::run() {
    uint32_t done = 0;
    for (;;) {
        uint32_t head;
        while ((head = _todo_head.load(std::memory_order_acquire)) == _todo_tail) {
            _todo_head.wait(head, std::memory_order_acquire);
        }
        disk_job& job = _todo[_todo_tail % _todo.size()];
        ++_todo_tail;
        if (job.block == nullptr) {
            return;  // the destructor's stop
        }
        write_job(job);
        _done[done % _done.size()] = job;
        ++done;
        _done_head.store(done, std::memory_order_release);
        _done_head.notify_one();
    }
}

void disk_writer::write_job(disk_job& job) {
    job.reached = 0;
    job.error = 0;
    if (_failed) {
        job.error = ECANCELED;
        return;
    }
    if (before_write) {
        if (const int err = before_write(job); err != 0) {
            job.error = err;
            _failed = true;
            return;
        }
    }
    const size_t padded = round_up_direct(job.length);
    size_t off = 0;
    bool retried = false;
    while (off < padded) {
        const ssize_t n = pwrite(job.fd, job.block + off, padded - off, off_t(job.offset + off));
        if (n > 0) {
            off += size_t(n);
            continue;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && errno == EINVAL && !retried) {
            // The file system took O_DIRECT at open but not this write:
            // the same bytes through the page cache.
            retried = true;
            const int fl = fcntl(job.fd, F_GETFL);
            if (fl >= 0 && (fl & O_DIRECT) && fcntl(job.fd, F_SETFL, fl & ~O_DIRECT) == 0) {
                _fell_back.store(true, std::memory_order_relaxed);
                continue;
            }
        }
        job.error = n < 0 ? errno : ENOSPC;
        break;
    }
    job.reached = uint32_t(off < job.length ? off : job.length);
    if (job.error) {
        _failed = true;
        return;
    }
    if (padded != job.length) {
        // The padding is not the file's: cut it off, so the file is exact
        // whenever the writer is idle (a crash leaves whole records).
        while (ftruncate(job.fd, off_t(job.offset + job.length)) != 0 && errno == EINTR) {
        }
    }
}

}  // namespace xcap
