#pragma once

#include <cstdint>
#include <exception>
#include <memory>
#include <string>

#include "engine/stop_event.h"
#include "pcap/reader.h"
#include "replay/replay.h"

namespace xcap {

// The capture, pass after pass. The reader that checked its header at the
// start reads the first pass: standard input from a pipe cannot be read from
// its start again, so nothing may read it twice. Later passes open the input
// afresh, which open_replay_input allows only where capture_reader::can_reread.
// The first pass may run on another thread than the check; passes never
// overlap.
class replay_input {
public:
    explicit replay_input(const std::string& path) : _path(path), _first(std::make_unique<capture_reader>(path)) {}

    // Until the first pass takes it.
    const capture_reader& first() const { return *_first; }

    std::unique_ptr<capture_reader> open() {
        if (_first) {
            return std::move(_first);
        }
        return std::make_unique<capture_reader>(_path);
    }

private:
    std::string _path;
    std::unique_ptr<capture_reader> _first;
};

// Checks the input before anything else is set up, so a missing or broken
// file fails first: not empty, read again only where it can be (--loop), an
// Ethernet capture. Throws read_error or failure(usage).
replay_input open_replay_input(const replay_options& opts);

// Reads the file's packets in order, up to `limit` (the packets a first pass
// found readable), calling fn(packet, number) until it returns false. A
// read_error ends the pass and is kept in `error` (the first one only): the
// packets before it are what the file holds, and they are still sent.
template <class F>
uint64_t read_pass(replay_input& input, uint64_t limit, const stop_event* stop, std::exception_ptr& error, F&& fn) {
    uint64_t n = 0;
    try {
        std::unique_ptr<capture_reader> r = input.open();
        if (stop) {
            r->interrupt_on(stop->fd());
        }
        read_packet p;
        while (n < limit && !(stop && stop->requested()) && r->next(p)) {
            if (!fn(p, ++n)) {
                break;
            }
        }
    } catch (const read_error&) {
        // A stop ends a wait on a pipe by ending its input, maybe mid-record:
        // that is the stop, not a fault of the input.
        if (!error && !(stop && stop->requested())) {
            error = std::current_exception();
        }
    }
    return n;
}

// Where a pass's read_error is reported: after the summary, as the result's
// input_error. Anything else is not the input's fault, and is rethrown.
void keep_input_error(const std::exception_ptr& error, replay_result& result);

}  // namespace xcap
