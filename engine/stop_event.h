#pragma once

#include <atomic>
#include <cstdint>

#include "common/fd.h"

namespace xcap {

// A stop request that sleeping threads notice at once: a flag for loops that
// check it, and an eventfd that every sleep waits on, so no wait (a long gap
// in a replay, a --loop-delay, an idle worker) outlives the request by more
// than a wake-up. request() and the rest may be called from any thread.
class stop_event {
public:
    stop_event();  // throws failure(runtime)

    // Idempotent. Wakes every sleep_for() now and later.
    void request();
    bool requested() const { return _flag.load(std::memory_order_acquire); }

    // Sleeps `ns` or until a stop is requested. Returns false when stopped.
    bool sleep_for(int64_t ns) const;

    // Readable once a stop is requested: for poll() sets.
    int fd() const { return _efd.get(); }

private:
    std::atomic<bool> _flag{false};
    unique_fd _efd;
};

}  // namespace xcap
