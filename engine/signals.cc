#include "engine/signals.h"

#include <pthread.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>

#include "common/error.h"

namespace xcap {

stop_signals::stop_signals() {
    sigemptyset(&_set);
    sigaddset(&_set, SIGINT);
    sigaddset(&_set, SIGTERM);
    sigaddset(&_set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &_set, nullptr);
    signal(SIGPIPE, SIG_IGN);
    _fd.reset(signalfd(-1, &_set, SFD_NONBLOCK | SFD_CLOEXEC));
    if (!_fd) {
        throw failure(failure_kind::runtime, errno, "cannot create a signalfd");
    }
}

int stop_signals::wait(int64_t timeout_ns) const {
    timespec ts{time_t(timeout_ns / 1'000'000'000), long(timeout_ns % 1'000'000'000)};
    int sig = sigtimedwait(&_set, nullptr, &ts);
    return sig > 0 ? sig : 0;
}

int stop_signals::take() const {
    signalfd_siginfo si{};
    if (read(_fd.get(), &si, sizeof(si)) != ssize_t(sizeof(si))) {
        return 0;
    }
    return int(si.ssi_signo);
}

}  // namespace xcap
