#pragma once

#include <signal.h>

#include <cstdint>

namespace xcap {

// The signals that end a capture or a replay the way Ctrl-C does: SIGINT,
// SIGTERM and SIGHUP (a closed terminal or ssh session). The constructor
// blocks them in the calling thread, so threads started afterwards inherit
// the mask and only the thread that calls wait() takes them, synchronously.
// They stay blocked for the rest of the process: a second Ctrl-C during the
// drain must not kill it before the summary. SIGPIPE is ignored: a reader
// that goes away shows up as EPIPE on write.
class stop_signals {
public:
    stop_signals();

    // The signal taken, or 0 when `timeout_ns` passed without one.
    int wait(int64_t timeout_ns) const;

    const sigset_t& set() const { return _set; }

private:
    sigset_t _set;
};

}  // namespace xcap
