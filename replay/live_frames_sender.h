#pragma once

#include <optional>

#include "replay/replay.h"
#include "replay/sender.h"

namespace xcap {

// Live frames: every packet of the file in a slot of an mmapable array map,
// sent by xcap_replay.bpf.c run through BPF_PROG_RUN with live frames (see
// there). As fast as the CPU goes, in the file's order, on this thread.
// With send_path::automatic, what live frames cannot do here (the file does
// not fit --preload, the program does not load, the kernel refuses the
// first call) returns nothing, with every resource released, and the caller
// sends through the socket; with --xdp-tx it is a failure. Reads `input`
// twice (sizing, then loading).
std::optional<replay_result> send_with_live_frames(const replay_run& run);

}  // namespace xcap
