#pragma once

#include <cstddef>
#include <cstdint>

namespace xcap {

// Anonymous memory for packet buffers (an AF_XDP UMEM): aligned to 2 MiB,
// asked of the kernel as transparent huge pages (MADV_HUGEPAGE) and filled
// in at once. With 4 KiB pages, a UMEM of 16,384 frames spans 16,384 pages,
// far more than the TLB holds, and every packet's first touch was a page
// walk, on the capture thread and in the kernel's copy alike; with 2 MiB
// pages it spans 32. Where the kernel has no huge page to give, the memory
// is plain pages and works the same.
class packet_memory {
public:
    // Throws xcap::failure (kind runtime) when the memory cannot be mapped.
    explicit packet_memory(size_t size);
    ~packet_memory();
    packet_memory(const packet_memory&) = delete;
    packet_memory& operator=(const packet_memory&) = delete;

    uint8_t* data() const { return _data; }
    size_t size() const { return _size; }

    // Bytes of it the kernel backs with huge pages now (reads /proc/self/smaps).
    size_t huge_bytes() const;

    static constexpr size_t huge_page = size_t(2) << 20;

private:
    uint8_t* _data = nullptr;
    size_t _size = 0;
    size_t _mapped = 0;  // the mapping's length: size rounded up to huge pages
};

}  // namespace xcap
