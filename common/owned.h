#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <cstdint>
#include <memory>

// The one ownership style for kernel resources: a std::unique_ptr
// with a deleter, beside common/fd.h's unique_fd for plain descriptors.
// Each owner frees once, when it goes out of scope; none is thread-safe.
namespace xcap {

// A BPF skeleton, destroyed with its generated __destroy function (which
// also closes the programs' and maps' fds and detaches what it attached).
template <class Skeleton, void (*destroy)(Skeleton*)>
struct skeleton_deleter {
    void operator()(Skeleton* s) const { destroy(s); }
};
template <class Skeleton, void (*destroy)(Skeleton*)>
using unique_skeleton = std::unique_ptr<Skeleton, skeleton_deleter<Skeleton, destroy>>;

// A shared mapping of `bytes` bytes (a BPF map's memory), unmapped once.
struct unmapper {
    size_t bytes = 0;
    void operator()(uint8_t* area) const { munmap(area, bytes); }
};
using unique_mapping = std::unique_ptr<uint8_t, unmapper>;

// Maps `bytes` of `fd` read-write and shared; empty (errno set) on failure.
inline unique_mapping map_shared(int fd, size_t bytes) {
    void* area = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (area == MAP_FAILED) {
        return unique_mapping(nullptr, unmapper{bytes});
    }
    return unique_mapping(static_cast<uint8_t*>(area), unmapper{bytes});
}

}  // namespace xcap
