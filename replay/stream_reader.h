#pragma once

#include <atomic>
#include <boost/lockfree/spsc_queue.hpp>
#include <cstdint>
#include <exception>
#include <memory>
#include <thread>
#include <vector>

#include "engine/xsk.h"
#include "replay/input.h"
#include "replay/plan.h"
#include "replay/replay.h"
#include "replay/tx_worker.h"

namespace xcap {

// The streaming path: a reader thread reads the file once per loop into
// UMEM slots the TX workers hand back, and feeds them in order, one SPSC
// queue per TX queue each way (the reader produces the feed and consumes the
// free slots; each worker the other way round). Whatever the thread throws
// is kept for the main thread, which reports it after the summary. Borrows
// everything it is given, which must outlive it; construction, connect(),
// start(), join() and error() are for the main thread.
class stream_reader {
public:
    stream_reader(const replay_options& opts, replay_input& input, const classifier& proto, replay_totals& totals,
                  std::vector<std::unique_ptr<xsk_queue>>& xsks, tx_shared& shared);
    ~stream_reader() { join(); }
    stream_reader(const stream_reader&) = delete;
    stream_reader& operator=(const stream_reader&) = delete;

    // Gives queue q's worker its feed and its way to hand slots back.
    void connect(tx_queue_state& s, uint32_t q);

    void start();
    void join();
    // The read_error that ended the first pass, or an unexpected exception.
    // After join().
    std::exception_ptr error() const { return _error; }

private:
    void run();
    void read_loops();

    const replay_options& _opts;
    replay_input& _input;
    const classifier _proto;
    replay_totals& _totals;
    std::vector<std::unique_ptr<xsk_queue>>& _xsks;
    tx_shared& _shared;
    std::vector<std::unique_ptr<boost::lockfree::spsc_queue<tx_item>>> _feeds;
    std::vector<std::unique_ptr<boost::lockfree::spsc_queue<uint64_t>>> _free;
    uint64_t _slot = 0;
    std::atomic<bool> _done{false};
    std::exception_ptr _error;
    std::thread _thread;
};

}  // namespace xcap
