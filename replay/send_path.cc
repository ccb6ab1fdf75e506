#include "replay/send_path.h"

#include <linux/capability.h>

#include <optional>
#include <string>
#include <vector>

#include "bpf/xcap_abi.h"
#include "common/error.h"
#include "engine/caps.h"
#include "engine/netdev_features.h"

namespace xcap {
namespace {

void check_setup(const replay_options& opts, const device_info& dev, bool live_frames) {
    require_up(dev);
    // Sending needs the socket and its pinned buffers; a program only with
    // --xdp-mode. Live frames need no socket, but load and run a program.
    std::vector<capability_need> needs;
    if (!live_frames) {
        needs = {capability(CAP_NET_RAW), capability(CAP_IPC_LOCK)};
    }
    if (opts.attach || live_frames) {
        needs.push_back(capability(CAP_NET_ADMIN));
        needs.push_back(capability(CAP_BPF));
    }
    require_capabilities(needs);
    if (opts.queues > dev.tx_queues) {
        throw failure(failure_kind::usage,
                      "--queues " + std::to_string(opts.queues) + ": " + dev.name + " has " +
                          std::to_string(dev.tx_queues) + " TX queue" + (dev.tx_queues == 1 ? "" : "s"),
                      "choose at most that many");
    }
}

// Whether the driver transmits XDP frames now, by the xdp-features the kernel
// reports (6.3 and later): yes, no, or not reported. A veth has ndo-xmit only
// while its peer has an XDP program or GRO on; a NIC driver may have it only
// while an XDP program is attached.
std::optional<bool> driver_takes_xdp_frames(const device_info& dev) {
    try {
        const netdev_report report = query_netdev_features();
        if (!report.reported) {
            return std::nullopt;
        }
        auto it = report.by_ifindex.find(uint32_t(dev.ifindex));
        if (it == report.by_ifindex.end()) {
            return std::nullopt;
        }
        return (it->second.xdp_features & xdp_act::ndo_xmit) != 0;
    } catch (const failure&) {
        return std::nullopt;  // no answer: the caller decides as for an old kernel
    }
}

// send_path::automatic: why this run goes through the AF_XDP socket rather
// than live frames, or "" when live frames can send it.
std::string why_not_live_frames(const replay_options& opts, const device_info& dev) {
    if (opts.pace.mode != pace_mode::topspeed) {
        return "live frames only send --topspeed";
    }
    if (opts.queues > 1) {
        return "live frames send from one CPU (--queues " + std::to_string(opts.queues) + " given)";
    }
    if (opts.attach) {
        return "--xdp-mode is for the socket";
    }
    if (opts.bind != bind_mode::automatic) {
        return "--bind is for the socket";
    }
    if (opts.input == "-") {
        return "live frames send a file loaded first, not standard input";
    }
    if (opts.pace.loop_delay_ns > 0) {
        return "live frames do not pause between loops (--loop-delay given)";
    }
    if (opts.preload_bytes == 0) {
        return "--preload 0: live frames send a file loaded first";
    }
    if (dev.mtu + 18 > XCAP_REPLAY_MAX_FRAME) {
        return "MTU " + std::to_string(dev.mtu) + ": a live frame carries at most " +
               std::to_string(XCAP_REPLAY_MAX_FRAME) + " bytes";
    }
    if (!missing_capabilities(effective_capabilities(), {capability(CAP_NET_ADMIN), capability(CAP_BPF)}).empty()) {
        return "live frames need CAP_BPF and CAP_NET_ADMIN";
    }
    const std::optional<bool> takes_frames = driver_takes_xdp_frames(dev);
    if (!takes_frames) {
        return "the kernel does not report whether " + dev.name + " transmits XDP frames (Linux 6.3 and later do)";
    }
    if (!*takes_frames) {
        return dev.name + " does not transmit XDP frames now (no ndo-xmit in its xdp-features)";
    }
    return "";
}

}  // namespace

bool choose_live_frames(const replay_options& opts, const device_info& dev, const replay_log& log) {
    switch (opts.send) {
        case send_path::socket:
            return false;
        case send_path::live_frames:
            check_setup(opts, dev, true);  // a missing capability first: it says what to do
            if (driver_takes_xdp_frames(dev) == false) {
                throw failure(failure_kind::unsupported,
                              "--xdp-tx: " + dev.name +
                                  " does not transmit XDP frames now (no ndo-xmit in its xdp-features)",
                              "a veth does while its peer has an XDP program or GRO on; or leave out --xdp-tx");
            }
            return true;
        case send_path::automatic:
            break;
    }
    if (const std::string why = why_not_live_frames(opts, dev); !why.empty()) {
        if (opts.verbose) {
            log.info("sending through an AF_XDP socket: " + why);
        }
        return false;
    }
    check_setup(opts, dev, true);
    return true;
}

void check_socket_setup(const replay_options& opts, const device_info& dev) { check_setup(opts, dev, false); }

}  // namespace xcap
