#pragma once

#include <cstdint>
#include <optional>

#include "engine/device.h"
#include "replay/replay.h"
#include "replay/report.h"

// What the interface's own state says about a replay: whether it can send
// at all (carrier), and what it dropped of what it was handed. Setup and
// the end of a run, on the thread that runs the replay.
namespace xcap {

// An interface that is up without carrier (a cable out, a veth whose peer
// is down) takes every frame and drops it: said once a run, just before the
// first packet (live frames may hand over to the socket, which must not say
// it again).
class carrier_warning {
public:
    explicit carrier_warning(const device_info& dev) : _dev(dev) {}

    void before_sending(const replay_log& log);

private:
    const device_info& _dev;
    bool _warned = false;
};

// AF_XDP completes a frame that the interface dropped (no carrier, a full
// queue), and live frames count it as handed over: only the interface's
// tx_dropped counter knows. Its rise over the run is taken out of `sent`, at
// most what xcap handed over, since other senders' drops count there too.
class interface_drops {
public:
    explicit interface_drops(unsigned ifindex);

    void settle(replay_totals& t) const;

private:
    unsigned _ifindex;
    std::optional<uint64_t> _before;
};

}  // namespace xcap
