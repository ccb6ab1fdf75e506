#pragma once

#include <signal.h>

#include <cstdint>

#include "common/fd.h"

namespace xcap {

// The signals that end a capture or a replay the way Ctrl-C does: SIGINT,
// SIGTERM and SIGHUP (a closed terminal or ssh session). The constructor
// blocks them in the calling thread, so threads started afterwards inherit
// the mask, and they are taken synchronously: through wait(), or through
// fd() (a signalfd, for a poll() set) and take(). They stay blocked for the
// rest of the process: a second Ctrl-C during the drain must not kill it
// before the summary. SIGPIPE is ignored: a reader that goes away shows up as
// EPIPE on write.
class stop_signals {
public:
    stop_signals();

    // The signal taken, or 0 when `timeout_ns` passed without one.
    int wait(int64_t timeout_ns) const;

    // Readable while a stop signal is pending.
    int fd() const { return _fd.get(); }
    // The pending signal taken, or 0 when none is pending. Never blocks.
    int take() const;

private:
    sigset_t _set;
    unique_fd _fd;
};

}  // namespace xcap
