#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "engine/device.h"
#include "replay/replay.h"

// What replay tells the user while it runs, the same for either send path:
// the setup lines, the progress line, and (format_replay_summary, replay.h)
// the summary. Used on the thread that runs the replay.
namespace xcap {

// Where the lines go (run_replay's callbacks): `info` the informational
// lines, `warn` what the user must see even under -q, `progress` the
// in-place line ("" clears it).
struct replay_log {
    std::function<void(const std::string&)> info;
    std::function<void(const std::string&)> warn;
    std::function<void(const std::string&)> progress;
};

// Once the packets are counted: how many are skipped as larger than the
// interface (or one AF_XDP frame) takes, and which is the first. Nothing
// when none is.
void tell_skipped(const replay_totals& t, const device_info& dev, const replay_log& log);

// Every one of the file's `readable` packets was skipped.
void tell_nothing_to_send(const replay_options& opts, uint64_t readable, const replay_log& log);

// The progress line (with opts.progress): how far, how fast over the last
// interval, and when it ends if it does. `planned` is one pass's packets (0:
// not known, when streamed).
class progress_meter {
public:
    progress_meter(const replay_options& opts, uint64_t planned, const replay_log& log)
        : _opts(opts), _planned(planned), _log(log) {}

    // Whether a line is due at `now` (CLOCK_MONOTONIC ns): every half second.
    bool due(int64_t now) const { return _opts.progress && now - _last_ns >= 500'000'000; }
    // Shows the line for `sent` packets so far.
    void report(int64_t now, uint64_t sent);
    // Clears the line at the end, before the summary.
    void clear() const;

private:
    const replay_options& _opts;
    uint64_t _planned;
    const replay_log& _log;
    int64_t _last_ns = 0;
    uint64_t _last_sent = 0;
};

}  // namespace xcap
