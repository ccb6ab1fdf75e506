#include "engine/packet_memory.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

#include "common/error.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

namespace xcap {

packet_memory::packet_memory(size_t size) : _size(size) {
    _mapped = (size + huge_page - 1) & ~(huge_page - 1);
    // Map one huge page more than needed and trim both ends to alignment.
    const size_t span = _mapped + huge_page;
    void* p = mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
        throw failure(failure_kind::runtime, errno,
                      "cannot map " + std::to_string(size >> 20) + " MiB of packet buffers", "lower the buffer size with -B");
    }
    auto* raw = static_cast<uint8_t*>(p);
    auto* aligned = reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(raw) + huge_page - 1) & ~(huge_page - 1));
    if (aligned > raw) {
        munmap(raw, size_t(aligned - raw));
    }
    const size_t tail = size_t(raw + span - (aligned + _mapped));
    if (tail) {
        munmap(aligned + _mapped, tail);
    }
    _data = aligned;
    madvise(_data, _mapped, MADV_HUGEPAGE);  // a hint: refused where THP is off
    // Fill it in now, not packet by packet: the kernel pins it anyway.
    if (madvise(_data, _mapped, MADV_POPULATE_WRITE) != 0) {
        const size_t page = size_t(sysconf(_SC_PAGESIZE));
        for (size_t off = 0; off < _mapped; off += page) {
            _data[off] = 0;
        }
    }
}

packet_memory::~packet_memory() {
    if (_data) {
        munmap(_data, _mapped);
    }
}

size_t packet_memory::huge_bytes() const {
    std::ifstream smaps("/proc/self/smaps");
    const auto start = reinterpret_cast<uintptr_t>(_data);
    const uintptr_t end = start + _mapped;
    size_t huge = 0;
    bool inside = false;
    for (std::string line; std::getline(smaps, line);) {
        unsigned long lo = 0, hi = 0;
        if (std::sscanf(line.c_str(), "%lx-%lx ", &lo, &hi) == 2 && line.find('-') < line.find(' ')) {
            inside = lo < end && hi > start;
            continue;
        }
        unsigned long kb = 0;
        if (inside && std::sscanf(line.c_str(), "AnonHugePages: %lu kB", &kb) == 1) {
            huge += size_t(kb) << 10;
        }
    }
    return huge;
}

}  // namespace xcap
