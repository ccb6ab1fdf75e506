#pragma once

#include <cstdint>

#include "common/fd.h"

namespace xcap {

// Watches one interface through rtnetlink's link events, so a capture learns
// at once, without polling, that its interface was deleted (or moved to
// another namespace), went down, or changed its MTU. fd() goes into the
// owner's poll() set; update() reads what is pending. Not thread-safe.
class link_monitor {
public:
    struct state {
        bool gone = false;
        bool up = true;
        uint32_t mtu = 0;  // 0 until an event says
    };

    explicit link_monitor(unsigned ifindex);  // throws failure(runtime)

    int fd() const { return _fd.get(); }
    // Reads every pending event (never blocks) and returns the state so far.
    const state& update();
    const state& current() const { return _state; }

private:
    unsigned _ifindex;
    unique_fd _fd;
    state _state;
};

}  // namespace xcap
