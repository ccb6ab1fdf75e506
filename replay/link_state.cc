#include "replay/link_state.h"

#include <algorithm>

namespace xcap {

void carrier_warning::before_sending(const replay_log& log) {
    if (_warned) {
        return;
    }
    const std::optional<link_now> link = query_link(_dev.ifindex);
    if (!link || !link->up || (link->carrier && link->running)) {
        return;
    }
    _warned = true;
    if (!link->carrier) {
        log.warn(_dev.name + " has no carrier (its cable or peer is down): what is sent now is dropped by the "
                             "interface; bring the link up");
    } else {
        log.warn(_dev.name + " is up but not running (operational state " + link->operstate +
                 "): what is sent now may be dropped by the interface; bring the link up");
    }
}

interface_drops::interface_drops(unsigned ifindex) : _ifindex(ifindex) {
    if (std::optional<link_now> link = query_link(ifindex)) {
        _before = link->tx_dropped;
    }
}

void interface_drops::settle(replay_totals& t) const {
    const std::optional<link_now> link = query_link(_ifindex);
    if (!_before || !link || !link->tx_dropped || *link->tx_dropped < *_before) {
        return;
    }
    t.interface_tx_dropped = *link->tx_dropped - *_before;
    const uint64_t dropped = std::min(t.interface_tx_dropped, t.sent);
    if (dropped == 0) {
        return;
    }
    // The counter says how many, not which: their bytes are taken at the
    // run's mean frame size.
    t.sent_bytes -= uint64_t(static_cast<unsigned __int128>(t.sent_bytes) * dropped / t.sent);
    t.sent -= dropped;
    t.dropped_by_interface = dropped;
}

}  // namespace xcap
