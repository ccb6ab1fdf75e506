#include "replay/replay.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/capability.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <optional>
#include <thread>

#include "common/error.h"
#include "engine/caps.h"
#include "engine/clock.h"
#include "engine/cpu.h"
#include "engine/device.h"
#include "engine/live_frames.h"
#include "engine/netdev_features.h"
#include "engine/signals.h"
#include "engine/xsk.h"
#include "bpf/xcap_abi.h"
#include "pcap/reader.h"
#include "replay/pass_program.h"
#include "replay/tx_worker.h"
#include "xcap_replay.skel.h"

namespace xcap {
namespace {

constexpr uint32_t stream_frames = 4096;

bool vlan_tagged(const uint8_t* f, uint32_t len) {
    return len >= 14 && ((f[12] == 0x81 && f[13] == 0x00) || (f[12] == 0x88 && f[13] == 0xa8));
}

// Places preloaded packets densely: several per UMEM chunk, never across a
// chunk's end (aligned mode lets a TX descriptor start anywhere in a chunk;
// preloaded frames are never rewritten, so sharing a chunk is safe).
struct packer {
    uint32_t chunk;
    uint64_t next = 0;
    uint64_t place(uint32_t len) {
        uint64_t room = chunk - next % chunk;
        if (len > chunk) {
            // Multi-buffer: whole chunks from a chunk's start, one descriptor each.
            next += next % chunk ? room : 0;
            uint64_t at = next;
            next += (uint64_t(len) + chunk - 1) / chunk * chunk;
            return at;
        }
        if (len > room) {
            next += room;
        }
        uint64_t at = next;
        next += (len + 63) & ~uint64_t(63);  // keep each frame cache-line aligned
        return at;
    }
    uint64_t chunks() const { return (next + chunk - 1) / chunk; }
};

uint32_t next_pow2(uint64_t n) {
    uint32_t p = 64;
    while (p < n && p < (1u << 30)) {
        p <<= 1;
    }
    return p;
}

// What happens to each packet of the file, decided the same way on every pass.
struct classifier {
    uint32_t max_frame;   // untagged; +4 for a VLAN tag
    uint32_t frame_size;  // the most one send takes: a UMEM frame, or more with multi-buffer
    uint32_t chunk;       // the UMEM frame
    replay_totals& t;

    // Returns the number of bytes to send, or 0 to skip (counted).
    uint32_t operator()(const read_packet& p, uint64_t number) {
        if (p.caplen < 14) {
            ++t.skipped_too_short;
            return 0;
        }
        uint32_t limit = std::min(max_frame + (vlan_tagged(p.data, p.caplen) ? 4 : 0), frame_size);
        if (p.caplen > limit) {
            if (t.skipped_too_big++ == 0) {
                t.first_too_big = number;
                t.first_too_big_len = p.caplen;
            }
            return 0;
        }
        if (p.caplen < p.len) {
            ++t.truncated;
        }
        return p.caplen;
    }
};

// The capture, pass after pass. The reader that checked its header at the
// start reads the first pass: standard input from a pipe cannot be read from
// its start again, so nothing may read it twice. Later passes open the input
// afresh, which run_replay allows only where capture_reader::can_reread.
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

// Reads the file's packets in order, up to `limit` (the packets a first pass
// found readable), calling fn(packet, number). A read_error ends the pass and
// is kept in `error` (the first one only): the packets before it are what the
// file holds, and they are still sent.
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

int64_t default_preload() {
    struct sysinfo si{};
    int64_t ram = sysinfo(&si) == 0 ? int64_t(si.totalram) * si.mem_unit : 0;
    return std::min<int64_t>(ram / 4, int64_t(1) << 30);
}

// What the skipped frames were larger than: the interface's limit, or one
// UMEM frame where the kernel cannot send a frame as several.
std::string takes(const replay_totals& t, const std::string& device, uint32_t mtu) {
    if (t.frame_limit) {
        return "one AF_XDP frame (" + std::to_string(t.frame_limit) +
               " bytes: this kernel's AF_XDP has no multi-buffer, Linux 6.6 or later has it)";
    }
    return device + " takes (" + (mtu ? "MTU " + std::to_string(mtu) + ": " : std::string()) +
           std::to_string(t.max_frame) + " bytes, " + std::to_string(t.max_frame + 4) + " with a VLAN tag)";
}

std::string human_ns(uint64_t ns) {
    char b[32];
    if (ns < 10'000) {
        std::snprintf(b, sizeof(b), "%.1f µs", double(ns) / 1e3);
    } else if (ns < 10'000'000) {
        std::snprintf(b, sizeof(b), "%.0f µs", double(ns) / 1e3);
    } else {
        std::snprintf(b, sizeof(b), "%.1f ms", double(ns) / 1e6);
    }
    return b;
}

// Whether the capture is loaded into the sockets' buffers before sending,
// and how many UMEM frames each queue needs for it. One pass over the file,
// which also counts and classifies its packets.
struct preload_plan {
    bool preload = false;
    uint64_t readable = UINT64_MAX;   // packets before a read error, if any
    std::vector<uint32_t> frames;     // per queue
};

preload_plan plan_preload(const replay_options& opts, replay_input& input, const classifier& proto,
                          std::exception_ptr& read_failure) {
    preload_plan plan;
    const int64_t budget = opts.preload_bytes < 0 ? default_preload() : opts.preload_bytes;
    struct stat st{};
    if (!(budget > 0 && opts.input != "-" && stat(opts.input.c_str(), &st) == 0 && st.st_size <= budget)) {
        return plan;
    }
    classifier classify = proto;
    std::vector<packer> packing(opts.queues, packer{proto.chunk});
    plan.readable = read_pass(input, UINT64_MAX, nullptr, read_failure, [&](const read_packet& p, uint64_t n) {
        if (uint32_t bytes = classify(p, n)) {
            packing[flow_queue(p.data, p.caplen, opts.queues)].place(bytes);
        }
        return true;
    });
    uint64_t frames = 0;
    for (uint32_t q = 0; q < opts.queues; ++q) {
        // The TX and completion rings get as many slots as the UMEM has
        // chunks: at least 4096, so packing does not starve the rings.
        plan.frames.push_back(std::max(next_pow2(packing[q].chunks()), 4096u));
        frames += plan.frames.back();
    }
    plan.preload = int64_t(frames * proto.chunk) <= budget;
    return plan;
}

// Copies the file's packets into the queues' UMEMs and lists them with their
// due times. Returns the schedule's loop period.
int64_t load_tables(const replay_options& opts, replay_input& input, const classifier& proto, uint64_t readable,
                    std::vector<std::unique_ptr<xsk_queue>>& xsks, std::vector<std::vector<tx_item>>& tables) {
    replay_totals scratch;  // the counts were taken by the planning pass
    classifier classify{proto.max_frame, proto.frame_size, proto.chunk, scratch};
    schedule_builder sched(opts.pace);
    std::vector<packer> place(opts.queues, packer{proto.chunk});
    std::exception_ptr ignored;  // the planning pass kept it
    read_pass(input, readable, nullptr, ignored, [&](const read_packet& p, uint64_t n) {
        if (uint32_t bytes = classify(p, n)) {
            uint32_t q = flow_queue(p.data, p.caplen, opts.queues);
            uint64_t addr = place[q].place(bytes);
            std::memcpy(xsks[q]->area() + addr, p.data, bytes);
            tables[q].push_back(tx_item{addr, bytes, 0, sched.next(p.ts_ns, bytes)});
        }
        return true;
    });
    return sched.loop_period_ns();
}

// The streaming path: a reader thread reads the file once per loop into
// frames the TX workers hand back, and feeds them in order. Whatever it
// throws is kept for the main thread, which reports it after the summary.
class stream_reader {
public:
    stream_reader(const replay_options& opts, replay_input& input, const classifier& proto, replay_totals& totals,
                  std::vector<std::unique_ptr<xsk_queue>>& xsks, tx_shared& shared)
        : _opts(opts), _input(input), _proto(proto), _totals(totals), _xsks(xsks), _shared(shared) {
        // A slot holds the longest frame sent: one UMEM frame, or with
        // multi-buffer a power of two of them (the TX worker gives a slot
        // back when its first frame completes).
        const uint64_t slot = xsks[0]->config().frame_size * uint64_t(stream_chunks(proto, xsks[0]->config().frame_size));
        const uint64_t slots = uint64_t(xsks[0]->config().frame_count) * xsks[0]->config().frame_size / slot;
        _slot = slot;
        for (uint32_t q = 0; q < opts.queues; ++q) {
            _feeds.emplace_back(std::make_unique<boost::lockfree::spsc_queue<tx_item>>(slots));
            _free.emplace_back(std::make_unique<boost::lockfree::spsc_queue<uint64_t>>(slots));
            for (uint64_t f = 0; f < slots; ++f) {
                _free[q]->push(f * slot);
            }
        }
    }
    ~stream_reader() { join(); }

    // UMEM frames per streaming slot: enough for `proto.frame_size` bytes,
    // a power of two so slots tile the UMEM.
    static uint32_t stream_chunks(const classifier& proto, uint32_t chunk) {
        uint32_t n = 1;
        while (uint64_t(n) * chunk < proto.frame_size) {
            n <<= 1;
        }
        return n;
    }

    void connect(tx_queue_state& s, uint32_t q) {
        s.slot_bytes = _slot;
        s.feed = _feeds[q].get();
        s.free_frames = _free[q].get();
        s.feed_done = &_done;
    }

    void start() { _thread = start_thread("xcap-reader", -1, [this] { run(); }); }
    void join() {
        if (_thread.joinable()) {
            _thread.join();
        }
    }
    // The read_error that ended the first pass, or an unexpected exception.
    std::exception_ptr error() const { return _error; }

private:
    void run() {
        try {
            read_loops();
        } catch (...) {
            _error = std::current_exception();
            _shared.stop_all();
        }
        _done.store(true, std::memory_order_release);
    }

    void read_loops() {
        int64_t period = 0;
        uint64_t readable = UINT64_MAX;
        for (uint64_t loop = 0; (_opts.loops == 0 || loop < _opts.loops) && !_shared.stopping(); ++loop) {
            replay_totals local;
            classifier classify{_proto.max_frame, _proto.frame_size, _proto.chunk, local};
            schedule_builder sched(_opts.pace);
            uint64_t n = read_pass(_input, readable, &_shared.stop, _error, [&](const read_packet& p, uint64_t i) {
                uint32_t bytes = classify(p, i);
                if (!bytes) {
                    return true;
                }
                uint32_t q = flow_queue(p.data, p.caplen, _opts.queues);
                int64_t due = due_in_loop(sched.next(p.ts_ns, bytes), loop, period);
                uint64_t addr = 0;
                while (!_free[q]->pop(addr)) {
                    if (!_shared.stop.sleep_for(20'000)) {
                        return false;
                    }
                }
                std::memcpy(_xsks[q]->area() + addr, p.data, bytes);
                _feeds[q]->push(tx_item{addr, bytes, 0, due});  // as many slots as frames
                return true;
            });
            if (loop == 0) {
                readable = n;  // later passes stop where this one did
                _totals.file_packets = n;
                _totals.skipped_too_big = local.skipped_too_big;
                _totals.skipped_too_short = local.skipped_too_short;
                _totals.truncated = local.truncated;
                _totals.first_too_big = local.first_too_big;
                _totals.first_too_big_len = local.first_too_big_len;
            }
            period = sched.loop_period_ns();  // every pass schedules the same
            if (n == 0) {
                break;
            }
        }
    }

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

// Said just before the first packet, once a run (`warned`; live frames may
// hand over to the socket): an interface that is up without carrier (a cable
// out, a veth whose peer is down) takes every frame and drops it.
void warn_if_not_running(const device_info& dev, const std::function<void(const std::string&)>& warn, bool& warned) {
    if (warned) {
        return;
    }
    const std::optional<link_now> link = query_link(dev.ifindex);
    if (!link || !link->up || (link->carrier && link->running)) {
        return;
    }
    warned = true;
    if (!link->carrier) {
        warn(dev.name + " has no carrier (its cable or peer is down): what is sent now is dropped by the interface; "
                        "bring the link up");
    } else {
        warn(dev.name + " is up but not running (operational state " + link->operstate +
             "): what is sent now may be dropped by the interface; bring the link up");
    }
}

// AF_XDP completes a frame that the interface dropped (no carrier, a full
// queue), and live frames count it as handed over: only the interface's
// tx_dropped counter knows. Its rise over the run is taken out of `sent`, at
// most what xcap handed over, since other senders' drops count there too.
class interface_drops {
public:
    explicit interface_drops(unsigned ifindex) : _ifindex(ifindex) {
        if (std::optional<link_now> link = query_link(ifindex)) {
            _before = link->tx_dropped;
        }
    }

    void settle(replay_totals& t) const {
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

private:
    unsigned _ifindex;
    std::optional<uint64_t> _before;
};

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

// The progress line: how far, how fast, and when it ends if it does.
std::string progress_text(const replay_options& opts, uint64_t planned, uint64_t sent, double rate) {
    char line[256];
    // The end is known from --loop (not 0) or --limit, whichever comes first.
    uint64_t total = planned && opts.loops ? planned * opts.loops : 0;
    if (opts.limit) {
        total = total ? std::min(total, opts.limit) : opts.limit;
    }
    if (total) {
        double pct = 100.0 * double(sent) / double(total);
        double eta = rate > 0 ? double(total - std::min(sent, total)) / rate : 0;
        std::snprintf(line, sizeof(line), "%5.1f%% of %s, %" PRIu64 " sent, %.3f Mpps, ETA %.0f s", pct,
                      opts.input.c_str(), sent, rate / 1e6, eta);
    } else {
        std::snprintf(line, sizeof(line), "%" PRIu64 " sent, %.3f Mpps", sent, rate / 1e6);
    }
    return line;
}

// The main thread while the workers send: signals, --duration, the progress line.
void supervise(const replay_options& opts, tx_shared& shared, const stop_signals& signals,
               const std::vector<std::unique_ptr<tx_queue_state>>& states, uint64_t planned, replay_result& result,
               const std::function<void(const std::string&)>& progress) {
    const int64_t deadline = opts.duration_s > 0 ? shared.start_ns + int64_t(opts.duration_s * 1e9) : 0;
    int64_t last_progress = 0;
    uint64_t last_sent = 0;
    for (;;) {
        bool all_done = true;
        for (const auto& s : states) {
            all_done = all_done && s->done.load(std::memory_order_acquire);
        }
        if (all_done) {
            break;
        }
        int64_t tick = 50'000'000;
        if (deadline) {
            tick = std::clamp<int64_t>(deadline - monotonic_ns(), 0, tick);
        }
        if (signals.wait(tick)) {
            result.interrupted = true;
            shared.stop_all();
        }
        const int64_t now = monotonic_ns();
        if (deadline && now >= deadline) {
            shared.stop_all();  // a hard deadline: every wait ends now
        }
        if (opts.progress && now - last_progress >= 500'000'000) {
            uint64_t sent = 0;
            for (const auto& s : states) {
                sent += s->completed.load(std::memory_order_relaxed);
            }
            double rate = last_progress ? double(sent - last_sent) / (double(now - last_progress) / 1e9) : 0;
            progress(progress_text(opts, planned, sent, rate));
            last_progress = now;
            last_sent = sent;
        }
    }
}

// Live frames: every packet of the file in a slot of an mmapable array map,
// sent by xcap_replay.bpf.c run through BPF_PROG_RUN with live frames (see
// there). As fast as the CPU goes, in the file's order, on this thread.
// With send_path::automatic, what live frames cannot do here (the file does
// not fit --preload, the program does not load, the kernel refuses the
// first call) returns nothing, and the caller sends through the socket; with
// --xdp-tx it is a failure.
std::optional<replay_result> run_replay_xdp(const replay_options& opts, replay_input& input, const device_info& dev,
                                            const std::function<void(const std::string&)>& info,
                                            const std::function<void(const std::string&)>& warn, bool& link_warned,
                                            const std::function<void(const std::string&)>& progress) {
    const bool automatic = opts.send == send_path::automatic;
    auto cannot = [&](const failure& f) -> std::optional<replay_result> {
        if (!automatic) {
            throw f;
        }
        if (opts.verbose) {
            info(std::string("sending through an AF_XDP socket: ") + f.what());
        }
        return std::nullopt;
    };
    replay_result result;
    replay_totals& t = result.totals;
    t.paced = false;
    t.preloaded = true;
    t.xdp_tx = true;
    t.max_frame = dev.mtu + 14;
    // A live frame is one page: longer frames are skipped and counted.
    const classifier proto{t.max_frame, XCAP_REPLAY_MAX_FRAME, XCAP_REPLAY_MAX_FRAME, t};
    t.frame_limit = t.max_frame + 4 > XCAP_REPLAY_MAX_FRAME ? XCAP_REPLAY_MAX_FRAME : 0;
    std::exception_ptr read_failure;
    replay_totals counting;  // the first pass only sizes the map
    classifier sizing{proto.max_frame, proto.frame_size, proto.chunk, counting};
    uint64_t packets = 0;
    uint32_t longest = 14;
    const uint64_t readable = read_pass(input, UINT64_MAX, nullptr, read_failure,
                                        [&](const read_packet& p, uint64_t n) {
                                            if (uint32_t bytes = sizing(p, n)) {
                                                ++packets;
                                                longest = std::max(longest, bytes);
                                            }
                                            return true;
                                        });
    t.file_packets = readable;
    if (readable == 0 && read_failure) {
        std::rethrow_exception(read_failure);
    }
    if (packets == 0) {
        result.empty = readable == 0;
        if (readable) {
            info("all " + std::to_string(readable) + " packets of " + opts.input + " are skipped; nothing to send");
        }
        return result;
    }
    if (packets > UINT32_MAX) {
        return cannot(failure(failure_kind::usage, opts.input + ": " + std::to_string(packets) + " packets, more than --xdp-tx takes",
                      "leave out --xdp-tx"));
    }
    const uint32_t value_size = (uint32_t(sizeof(xcap_replay_slot)) - XCAP_REPLAY_MIN_SLOT + longest + 7) & ~7u;
    const uint64_t map_bytes = uint64_t(value_size) * packets;
    const int64_t budget = opts.preload_bytes < 0 ? default_preload() : opts.preload_bytes;
    if (int64_t(map_bytes) > budget) {
        return cannot(failure(failure_kind::usage,
                              "--xdp-tx: " + opts.input + " needs " + std::to_string(map_bytes >> 20) +
                                  " MiB in memory, more than the --preload budget (" + std::to_string(budget >> 20) +
                                  " MiB)",
                              "raise --preload, or leave out --xdp-tx"));
    }

    xcap_replay_bpf* skel = xcap_replay_bpf__open();
    if (!skel) {
        throw failure(failure_kind::runtime, errno, "cannot open the replay program");
    }
    std::unique_ptr<xcap_replay_bpf, void (*)(xcap_replay_bpf*)> own(skel, xcap_replay_bpf__destroy);
    skel->rodata->packet_count = uint32_t(packets);
    skel->rodata->slot_bytes = value_size - 8;
    bpf_map__set_value_size(skel->maps.xcap_replay_packets, value_size);
    bpf_map__set_max_entries(skel->maps.xcap_replay_packets, uint32_t(packets));
    if (int err = xcap_replay_bpf__load(skel)) {
        return cannot(failure(failure_kind::unsupported, -err,
                              "cannot load the --xdp-tx program (" + std::to_string(packets) + " packets, " +
                                  std::to_string(map_bytes >> 20) + " MiB)",
                              "leave out --xdp-tx"));
    }
    const int map_fd = bpf_map__fd(skel->maps.xcap_replay_packets);
    const size_t mapped = (map_bytes + 4095) & ~size_t(4095);
    void* area = mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_SHARED, map_fd, 0);
    if (area == MAP_FAILED) {
        return cannot(failure(failure_kind::runtime, errno, "cannot map the --xdp-tx packet map"));
    }
    std::unique_ptr<void, std::function<void(void*)>> unmap(area, [mapped](void* a) { munmap(a, mapped); });
    uint64_t slot = 0;
    classifier classify = proto;  // counts the skipped into t, once
    read_pass(input, readable, nullptr, read_failure, [&](const read_packet& p, uint64_t n) {
        if (uint32_t bytes = classify(p, n)) {
            auto* s = reinterpret_cast<xcap_replay_slot*>(static_cast<uint8_t*>(area) + slot * value_size);
            s->len = bytes;
            std::memcpy(s->data, p.data, bytes);
            ++slot;
        }
        return slot < packets;
    });
    if (t.skipped_too_big) {
        info("skipping " + std::to_string(t.skipped_too_big) + " packet" + (t.skipped_too_big == 1 ? "" : "s") +
             " larger than " + takes(t, dev.name, dev.mtu) + "; the first is packet " + std::to_string(t.first_too_big) +
             " (" + std::to_string(t.first_too_big_len) + " bytes)");
    }
    info(dev.name + ": sending with XDP live frames (BPF_PROG_RUN, XDP_TX), " + std::to_string(packets) +
         " packets preloaded");

    // How many runs in all: the file `loops` times (0: until stopped), at
    // most --limit. Calls of 100-400 ms: the size doubles after a shorter
    // call and halves after a longer one, so a signal or --duration ends the
    // sending within about that on a fast machine or a slow one. Not
    // shorter: each call also costs two updates of the kernel's XDP
    // dispatcher, each waiting for an RCU grace period (milliseconds here;
    // calls of 16,384 runs held 1,000,000 packets to 2.2-2.9 Mpps, the
    // process asleep half the time).
    const uint64_t total = opts.loops ? packets * opts.loops : UINT64_MAX;
    const uint64_t want = opts.limit ? std::min<uint64_t>(total, opts.limit) : total;
    uint64_t per_call = 262144;
    std::vector<uint8_t> frame(longest, 0);  // each run sizes it and writes its packet over it
    stop_signals signals;
    warn_if_not_running(dev, warn, link_warned);
    const interface_drops drops(dev.ifindex);
    const int64_t start = monotonic_ns();
    const int64_t deadline = opts.duration_s > 0 ? start + int64_t(opts.duration_s * 1e9) : 0;
    const int prog = bpf_program__fd(skel->progs.xcap_replay);
    uint64_t done = 0;
    int64_t last_progress = 0;
    uint64_t last_sent = 0;
    while (done < want) {
        if (signals.wait(0)) {
            result.interrupted = true;
            break;
        }
        if (deadline && monotonic_ns() >= deadline) {
            break;
        }
        const uint64_t n = std::min(per_call, want - done);
        const int64_t call_start = monotonic_ns();
        if (const int err = run_live_frames(prog, dev.ifindex, frame, n)) {
            if (err == EINTR) {
                result.interrupted = true;
                break;
            }
            failure f(failure_kind::unsupported, err, "cannot send with XDP live frames on " + dev.name,
                      "leave out --xdp-tx (it needs Linux 5.18 or later)");
            if (done == 0) {
                return cannot(f);  // nothing sent yet: the socket can still send it all
            }
            throw f;
        }
        done += n;
        const int64_t now = monotonic_ns();
        const int64_t took = now - call_start;
        if (opts.progress && now - last_progress >= 500'000'000) {
            const uint64_t sent = skel->bss->sent;
            const double rate = last_progress ? double(sent - last_sent) / (double(now - last_progress) / 1e9) : 0;
            progress(progress_text(opts, packets, sent, rate));
            last_progress = now;
            last_sent = sent;
        }
        if (n == per_call && took < 100'000'000) {
            per_call = std::min<uint64_t>(per_call * 2, uint64_t(1) << 24);
        } else if (took > 400'000'000) {
            per_call = std::max<uint64_t>(per_call / 2, 1024);
        }
    }
    t.seconds = double(monotonic_ns() - start) / 1e9;
    if (opts.progress) {
        progress("");
    }
    t.sent = skel->bss->sent;
    t.sent_bytes = skel->bss->sent_bytes;
    t.xdp_failed = skel->bss->failed;
    drops.settle(t);
    if (read_failure) {
        try {
            std::rethrow_exception(read_failure);
        } catch (const failure& e) {
            result.input_error = e;
        }
    }
    return result;
}

}  // namespace

replay_result run_replay(const replay_options& opts, const std::function<void(const std::string&)>& info,
                         const std::function<void(const std::string&)>& warn,
                         const std::function<void(const std::string&)>& progress) {
    route_library_logs(opts.verbose);
    replay_result result;
    replay_totals& t = result.totals;
    t.paced = opts.pace.mode != pace_mode::topspeed;

    // The input first: a missing or broken file fails before anything else.
    if (struct stat st0{}; opts.input != "-" && stat(opts.input.c_str(), &st0) == 0 && S_ISREG(st0.st_mode) &&
                           st0.st_size == 0) {
        throw read_error(opts.input + ": the file is empty (0 bytes), not a pcap or pcapng capture");
    }
    if (opts.loops != 1 && !capture_reader::can_reread(opts.input)) {
        throw failure(failure_kind::usage,
                      "--loop " + std::to_string(opts.loops) +
                          ": standard input is a pipe (or another stream), which can be read only once",
                      "name the file with -r FILE, or redirect it: -r - < FILE");
    }
    replay_input input(opts.input);
    input.first().require_ethernet();

    device_info dev = probe_device(opts.interface);
    bool link_warned = false;
    bool live = opts.send == send_path::live_frames;
    if (live) {
        check_setup(opts, dev, true);  // a missing capability first: it says what to do
        if (driver_takes_xdp_frames(dev) == false) {
            throw failure(failure_kind::unsupported,
                          "--xdp-tx: " + dev.name + " does not transmit XDP frames now (no ndo-xmit in its xdp-features)",
                          "a veth does while its peer has an XDP program or GRO on; or leave out --xdp-tx");
        }
    } else if (opts.send == send_path::automatic) {
        const std::string why = why_not_live_frames(opts, dev);
        live = why.empty();
        if (!live && opts.verbose) {
            info("sending through an AF_XDP socket: " + why);
        }
    }
    if (live) {
        check_setup(opts, dev, true);
        if (std::optional<replay_result> r = run_replay_xdp(opts, input, dev, info, warn, link_warned, progress)) {
            return std::move(*r);
        }
    }
    check_setup(opts, dev, false);
    std::optional<xdp_takeover> takeover;
    if (opts.attach) {
        takeover.emplace(dev, opts.force, "leave out --xdp-mode, remove it, or pass --force");
    }

    t.max_frame = dev.mtu + 14;
    const uint32_t frame_size = dev.mtu + 18 <= 2048 ? 2048 : 4096;
    // Jumbo frames: a frame longer than a UMEM frame goes out as several
    // descriptors (XDP_PKT_CONTD) where the kernel's AF_XDP has multi-buffer.
    const bool multi_buffer = t.max_frame + 4 > frame_size && xsk_multibuffer_supported();
    t.frame_limit = multi_buffer || t.max_frame + 4 <= frame_size ? 0 : frame_size;
    const classifier proto{t.max_frame, multi_buffer ? t.max_frame + 4 : frame_size, frame_size, t};
    std::exception_ptr read_failure;
    preload_plan plan = plan_preload(opts, input, proto, read_failure);
    t.preloaded = plan.preload;
    if (plan.preload) {
        t.file_packets = plan.readable;
        if (plan.readable == 0) {
            if (read_failure) {
                std::rethrow_exception(read_failure);  // not one whole packet: nothing to send
            }
            result.empty = true;
            return result;
        }
    }

    // Sockets, one UMEM each; the program only with --xdp-mode.
    std::unique_ptr<pass_program> program;
    if (opts.attach) {
        program = std::make_unique<pass_program>();
    }
    std::vector<std::unique_ptr<xsk_queue>> xsks;
    for (uint32_t q = 0; q < opts.queues; ++q) {
        xsk_config cfg;
        cfg.direction = xsk_direction::tx;
        cfg.frame_size = frame_size;
        cfg.frame_count = plan.preload ? plan.frames[q] : stream_frames;
        cfg.multi_buffer = multi_buffer;
        cfg.prefer_multi_buffer = multi_buffer;
        xsks.emplace_back(std::make_unique<xsk_queue>(dev.name, q, cfg, opts.bind));
        if (multi_buffer && !xsks.back()->multi_buffer()) {
            // A zero-copy driver without multi-buffer: say so rather than send nothing.
            throw failure(failure_kind::unsupported,
                          dev.name + ": MTU " + std::to_string(dev.mtu) + " needs multi-buffer AF_XDP sends, which "
                              "the driver's zero-copy mode lacks",
                          "use --bind copy");
        }
    }
    if (program) {
        takeover->apply(info);
        program->attach(dev, *opts.attach);
    }
    for (const auto& x : xsks) {
        info(dev.name + " TX queue " + std::to_string(x->queue()) + ": " + (x->zero_copy() ? "zero-copy" : "copy") +
             " mode" + (x->multi_buffer() ? ", multi-buffer" : "") + (program ? std::string(", ") + to_string(program->mode()) + " XDP program attached" : ""));
    }

    tx_shared shared;
    shared.loops = opts.loops;
    shared.budget = opts.limit ? int64_t(opts.limit) : -1;
    std::vector<std::vector<tx_item>> tables(opts.queues);
    std::unique_ptr<stream_reader> reader;
    uint64_t planned = 0;
    if (plan.preload) {
        shared.loop_period_ns = load_tables(opts, input, proto, plan.readable, xsks, tables);
        for (const auto& tb : tables) {
            planned += tb.size();
        }
        if (planned == 0) {
            info("all " + std::to_string(plan.readable) + " packets of " + opts.input +
                 " are skipped; nothing to send");
        }
        if (t.skipped_too_big) {
            info("skipping " + std::to_string(t.skipped_too_big) + " packet" + (t.skipped_too_big == 1 ? "" : "s") +
                 " larger than " + takes(t, dev.name, dev.mtu) + "; the first is packet " +
                 std::to_string(t.first_too_big) + " (" + std::to_string(t.first_too_big_len) + " bytes)");
        }
    } else {
        reader = std::make_unique<stream_reader>(opts, input, proto, t, xsks, shared);
    }

    stop_signals signals;
    std::vector<std::unique_ptr<tx_queue_state>> states;
    for (uint32_t q = 0; q < opts.queues; ++q) {
        auto s = std::make_unique<tx_queue_state>();
        s->xsk = xsks[q].get();
        if (reader) {
            reader->connect(*s, q);
        } else {
            s->table = &tables[q];
        }
        states.push_back(std::move(s));
    }

    warn_if_not_running(dev, warn, link_warned);
    const interface_drops drops(dev.ifindex);
    shared.start_ns = monotonic_ns() + 1'000'000;  // 1 ms for the threads to start
    if (reader) {
        reader->start();
    }
    std::vector<std::thread> threads;
    std::vector<int> cpus = allowed_cpus();
    for (uint32_t q = 0; q < opts.queues; ++q) {
        threads.push_back(start_thread("xcap-tx" + std::to_string(q), cpus[cpus.size() - 1 - q % cpus.size()],
                                       [&, q] { run_tx_worker(*states[q], shared); }));
    }
    supervise(opts, shared, signals, states, planned, result, progress);
    shared.stop_all();
    for (auto& th : threads) {
        th.join();
    }
    if (reader) {
        reader->join();
        read_failure = reader->error();
    }
    if (opts.progress) {
        progress("");
    }
    if (program) {
        program->detach();
    }

    // The achieved rate is over the sending itself: from the schedule's start
    // to the last packet handed to the kernel.
    int64_t last = 0;
    for (const auto& s : states) {
        last = std::max(last, s->last_send_ns);
    }
    t.seconds = double(last) / 1e9;
    for (uint32_t q = 0; q < opts.queues; ++q) {
        replay_queue_totals qt;
        qt.queue = q;
        qt.zero_copy = xsks[q]->zero_copy();
        qt.sent = states[q]->completed.load();
        qt.xsk = xsks[q]->statistics().value_or(xdp_statistics{});
        t.sent += qt.sent;
        t.sent_bytes += states[q]->submitted_bytes.load();
        t.errors.merge(states[q]->errors);
        t.queues.push_back(qt);
    }
    drops.settle(t);
    if (read_failure) {
        try {
            std::rethrow_exception(read_failure);
        } catch (const failure& e) {
            result.input_error = e;
        }
        // Anything else is not the input's fault: it propagates.
    } else if (t.file_packets == 0) {
        result.empty = true;
    }
    return result;
}

std::string format_replay_summary(const replay_totals& t, const std::string& device) {
    std::string s;
    char b[512];
    double secs = t.seconds > 0 ? t.seconds : 1e-9;
    std::snprintf(b, sizeof(b), "sent %" PRIu64 " packets (%" PRIu64 " bytes) in %.3f s: %.3f Mpps, %.1f Mbps%s\n", t.sent,
                  t.sent_bytes, t.seconds, double(t.sent) / secs / 1e6, double(t.sent_bytes) * 8 / secs / 1e6,
                  t.xdp_tx ? " (preloaded, XDP live frames)" : t.preloaded ? " (preloaded)" : " (streamed)");
    s += b;
    if (t.xdp_tx) {
        std::snprintf(b, sizeof(b),
                      "sent with XDP live frames (XDP_TX): %" PRIu64 " handed to the driver; %" PRIu64
                      " could not be built; the interface's own counters say what it sent\n",
                      t.sent + t.dropped_by_interface, t.xdp_failed);
        s += b;
    }
    if (t.dropped_by_interface) {
        std::string counter = "its tx_dropped counter";
        if (t.interface_tx_dropped != t.dropped_by_interface) {
            counter += " rose by " + std::to_string(t.interface_tx_dropped) + ", other senders' drops included";
        }
        std::snprintf(b, sizeof(b), "dropped by %s: %" PRIu64 " packets (%s), not counted as sent\n", device.c_str(),
                      t.dropped_by_interface, counter.c_str());
        s += b;
    }
    if (t.paced && t.errors.count()) {
        s += "send-time error against the schedule: p50 " + human_ns(t.errors.quantile(0.5)) + ", p99 " +
             human_ns(t.errors.quantile(0.99)) + ", max " + human_ns(t.errors.max()) + "\n";
    }
    if (t.skipped_too_big || t.skipped_too_short || t.truncated) {
        std::snprintf(b, sizeof(b),
                      "skipped %" PRIu64 " larger than %s and %" PRIu64
                      " shorter than an Ethernet header; sent %" PRIu64 " as captured though shorter than on the wire\n",
                      t.skipped_too_big, takes(t, device, 0).c_str(), t.skipped_too_short, t.truncated);
        s += b;
    }
    for (const auto& q : t.queues) {
        std::snprintf(b, sizeof(b), "TX queue %u: %" PRIu64 " completed, tx_invalid_descs %llu, tx_ring_empty_descs %llu\n",
                      q.queue, q.sent, (unsigned long long)q.xsk.tx_invalid_descs,
                      (unsigned long long)q.xsk.tx_ring_empty_descs);
        s += b;
    }
    return s;
}

}  // namespace xcap
