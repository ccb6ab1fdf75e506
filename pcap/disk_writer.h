#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "common/owned.h"

namespace xcap {

class output;

// Direct I/O wants offsets, lengths and memory aligned to the device's
// logical block; 4 KiB satisfies every device and file system seen.
inline constexpr size_t direct_align = 4096;
inline constexpr size_t round_up_direct(size_t n) { return (n + direct_align - 1) & ~(direct_align - 1); }

// The memory between the capture thread and the disk: `count` blocks of
// `block_size` bytes (a multiple of direct_align), one mapping made once.
// Huge pages when the system has some reserved (MAP_HUGETLB), else normal
// pages with transparent huge pages asked for. Not thread-safe by itself:
// disk_writer says who owns which block when.
class block_pool {
public:
    // Throws xcap::failure (kind output) when the memory cannot be mapped.
    block_pool(size_t total_bytes, size_t block_size);

    size_t count() const { return _count; }
    size_t block_size() const { return _block; }
    uint8_t* block(size_t i) const { return _memory.get() + i * _block; }
    bool huge_pages() const { return _huge; }
    // Faults every page in (MADV_POPULATE_WRITE), without touching their
    // contents: safe while another thread uses blocks.
    void populate() const;

private:
    unique_mapping _memory;  // unmapped with the pool
    size_t _bytes = 0;
    size_t _block = 0;
    size_t _count = 0;
    bool _huge = false;
};

// One write of a filled block at an aligned offset of a file.
struct disk_job {
    uint8_t* block = nullptr;
    output* owner = nullptr;    // the output that submitted it, told when it is back
    int fd = -1;
    uint64_t offset = 0;        // aligned
    uint32_t length = 0;        // real bytes; the write covers round_up_direct(length)
    uint32_t records_from = 0;  // the bytes before this are already in the file (a carried tail)
    uint32_t reached = 0;       // set by the writer: bytes that reached the file
    int error = 0;              // set by the writer: errno of the write that failed, or 0
};

// A writer thread fed by one capture thread through two single-producer,
// single-consumer rings: filled blocks go in with submit() and come back,
// written (or not, after a failure), through reclaim(). The capture thread
// never waits on the disk but in drain() (the end of the capture, a -W
// ring reopening a file) and wait_any() (one write, when the pool is full
// and a file's headers or closing statistics need a block).
//
// The writer pwrite()s each block rounded up to direct_align (the capture
// thread zeroes the padding); a block whose real length is shorter is the
// file's current end, so the writer ftruncate()s the file back to it: the
// file's length is exact after every write. A file system that refuses a
// direct write (EINVAL) gets the same write again without O_DIRECT, once
// per file. After the first failure nothing more is written: later jobs
// come back with reached 0 and the capture thread counts their records.
//
// Memory ordering: a job's contents are published by the release store of
// the ring's head and read after the acquire load of it, both ways.
class disk_writer {
public:
    disk_writer(size_t pool_bytes, size_t block_size);
    ~disk_writer();
    disk_writer(const disk_writer&) = delete;
    disk_writer& operator=(const disk_writer&) = delete;

    const block_pool& pool() const { return _pool; }

    // Capture thread: a free block, or nullptr when every block is full or
    // on its way to the disk (reclaim() first: the capture thread looks at
    // each finished job before its block is free again). Never blocks.
    uint8_t* take_block();
    void give_back(uint8_t* block) { _free.push_back(block); }
    // Capture thread: the one block kept out of the free list, where records
    // go while no block is free; they are dropped and counted.
    uint8_t* spare() const { return _pool.block(_pool.count() - 1); }
    // Capture thread: queue a job (its block belongs to the writer until
    // reclaimed). Never blocks: the rings hold every block.
    void submit(const disk_job& job);
    // Capture thread: the next finished job, if any.
    bool reclaim(disk_job& job);
    // Capture thread: waits until every submitted job is finished.
    void drain();
    // Capture thread: waits until a job is finished that reclaim() has not
    // returned yet; at once when none is in flight.
    void wait_any();
    bool has_free() const { return !_free.empty(); }
    // Jobs submitted and not yet reclaimed.
    size_t in_flight() const { return _submitted - _reclaimed; }
    // The writer fell back to buffered writes (the file system refused O_DIRECT).
    bool fell_back() const { return _fell_back.load(std::memory_order_relaxed); }

    // Packets dropped because no block was free (the burst outlasted the
    // pool), and their lengths on the wire: written by the capture thread
    // (relaxed), read by anyone (--stats).
    std::atomic<uint64_t> packets_full{0};
    std::atomic<uint64_t> wire_bytes_full{0};

    // Tests only, set before the first submit(): called on the writer
    // thread before each write, which fails with the errno it returns
    // (0: the write goes ahead). A test holds the writer in it, or makes
    // the disk fail on cue.
    std::function<int(const disk_job&)> before_write;

private:
    void run();
    void write_job(disk_job& job);

    block_pool _pool;
    std::vector<disk_job> _todo;   // ring capture → writer
    std::vector<disk_job> _done;   // ring writer → capture
    std::atomic<uint32_t> _todo_head{0};  // submitted (capture)
    std::atomic<uint32_t> _done_head{0};  // finished (writer)
    uint32_t _todo_tail = 0;  // writer's
    uint32_t _submitted = 0;  // capture's
    uint32_t _reclaimed = 0;  // capture's
    std::vector<uint8_t*> _free;  // capture's
    std::atomic<bool> _stop{false};
    std::atomic<bool> _fell_back{false};
    bool _failed = false;  // writer's: the first failure stops all writing
    void start();

    std::thread _thread;  // started by the first submit()
};

}  // namespace xcap
