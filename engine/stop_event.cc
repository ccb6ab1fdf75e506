#include "engine/stop_event.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>

#include "common/error.h"

namespace xcap {

stop_event::stop_event() : _efd(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
    if (!_efd) {
        throw failure(failure_kind::runtime, errno, "cannot create an eventfd");
    }
}

void stop_event::request() {
    _flag.store(true, std::memory_order_release);
    uint64_t one = 1;
    // Never read back: the eventfd stays readable, so every waiter wakes.
    [[maybe_unused]] ssize_t n = write(_efd.get(), &one, sizeof(one));
}

bool stop_event::sleep_for(int64_t ns) const {
    if (requested()) {
        return false;
    }
    if (ns > 0) {
        pollfd p{_efd.get(), POLLIN, 0};
        timespec ts{time_t(ns / 1'000'000'000), long(ns % 1'000'000'000)};
        ppoll(&p, 1, &ts, nullptr);
    }
    return !requested();
}

}  // namespace xcap
