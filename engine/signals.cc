#include "engine/signals.h"

#include <pthread.h>

#include <cerrno>

namespace xcap {

stop_signals::stop_signals() {
    sigemptyset(&_set);
    sigaddset(&_set, SIGINT);
    sigaddset(&_set, SIGTERM);
    sigaddset(&_set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &_set, nullptr);
    signal(SIGPIPE, SIG_IGN);
}

int stop_signals::wait(int64_t timeout_ns) const {
    timespec ts{time_t(timeout_ns / 1'000'000'000), long(timeout_ns % 1'000'000'000)};
    int sig = sigtimedwait(&_set, nullptr, &ts);
    return sig > 0 ? sig : 0;
}

}  // namespace xcap
