#pragma once

#include "engine/device.h"
#include "replay/input.h"
#include "replay/link_state.h"
#include "replay/replay.h"
#include "replay/report.h"

namespace xcap {

// What a send path (live frames, the AF_XDP socket) is given for one run:
// borrowed from run_replay, which outlives the sending; the calling thread's.
struct replay_run {
    const replay_options& opts;
    replay_input& input;
    const device_info& dev;
    const replay_log& log;
    carrier_warning& carrier;  // said once a run, whichever path sends first
};

}  // namespace xcap
