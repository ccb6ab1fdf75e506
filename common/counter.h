#pragma once

#include <atomic>
#include <cstdint>

namespace xcap {

// Adds to a counter that exactly one thread writes and others read for
// statistics only: a relaxed load and store, no read-modify-write (no lock
// prefix on the hot path), which is exact because there is one writer.
inline void bump(std::atomic<uint64_t>& c, uint64_t n = 1) {
    c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

}  // namespace xcap
