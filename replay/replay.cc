#include "replay/replay.h"

#include <optional>

#include "engine/device.h"
#include "engine/xdp_attach.h"
#include "replay/input.h"
#include "replay/link_state.h"
#include "replay/live_frames_sender.h"
#include "replay/report.h"
#include "replay/send_path.h"
#include "replay/sender.h"
#include "replay/socket_sender.h"

namespace xcap {

replay_result run_replay(const replay_options& opts, const std::function<void(const std::string&)>& info,
                         const std::function<void(const std::string&)>& warn,
                         const std::function<void(const std::string&)>& progress) {
    route_library_logs(opts.verbose);
    const replay_log log{info, warn, progress};
    // The input first: a missing or broken file fails before anything else.
    replay_input input = open_replay_input(opts);
    const device_info dev = probe_device(opts.interface);
    carrier_warning carrier(dev);
    const replay_run run{opts, input, dev, log, carrier};
    if (choose_live_frames(opts, dev, log)) {
        if (std::optional<replay_result> r = send_with_live_frames(run)) {
            return std::move(*r);
        }
    }
    check_socket_setup(opts, dev);
    return send_through_sockets(run);
}

}  // namespace xcap
