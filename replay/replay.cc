#include "replay/replay.h"

#include <linux/capability.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <memory>
#include <thread>

#include "engine/caps.h"
#include "engine/clock.h"
#include "engine/cpu.h"
#include "engine/device.h"
#include "common/error.h"
#include "pcap/reader.h"
#include "replay/tx_worker.h"

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
    uint32_t frame_size;  // UMEM frame: a hard upper bound
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

int64_t default_preload() {
    struct sysinfo si{};
    int64_t ram = sysinfo(&si) == 0 ? int64_t(si.totalram) * si.mem_unit : 0;
    return std::min<int64_t>(ram / 4, int64_t(1) << 30);
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

}  // namespace

replay_result run_replay(const replay_options& opts, const std::function<void(const std::string&)>& info,
                         const std::function<void(const std::string&)>& progress) {
    route_library_logs(opts.verbose);
    replay_result result;
    replay_totals& t = result.totals;
    t.paced = opts.pace.mode != pace_mode::topspeed;

    // The input first: a missing or broken file fails before anything else.
    // A file with nothing in it at all counts as an empty capture.
    if (struct stat st0{}; opts.input != "-" && stat(opts.input.c_str(), &st0) == 0 && S_ISREG(st0.st_mode) &&
                           st0.st_size == 0) {
        result.empty = true;
        return result;
    }
    auto first = std::make_unique<capture_reader>(opts.input);
    first->require_ethernet();

    device_info dev = probe_device(opts.interface);
    require_up(dev);
    // Sending needs the socket and its pinned buffers; a program only with --xdp-mode.
    std::vector<capability_need> needs = {capability(CAP_NET_RAW), capability(CAP_IPC_LOCK)};
    if (opts.attach) {
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
    std::optional<attached_program> foreign;
    if (opts.attach) {
        foreign = query_attached(dev.ifindex);
        if (foreign && !opts.force) {
            throw failure(failure_kind::xdp_busy, EBUSY,
                              dev.name + " already has XDP program '" + foreign->name + "' (id " +
                                  std::to_string(foreign->id) + ", " + foreign->mode + " mode)",
                              "leave out --xdp-mode, remove it, or pass --force");
        }
    }

    t.max_frame = dev.mtu + 14;
    const uint32_t frame_size = dev.mtu + 18 <= 2048 ? 2048 : 4096;
    classifier classify{t.max_frame, frame_size, t};

    // Preload when every packet fits in the budget, one frame each.
    const int64_t budget = opts.preload_bytes < 0 ? default_preload() : opts.preload_bytes;
    struct stat st{};
    bool preload = budget > 0 && opts.input != "-" && stat(opts.input.c_str(), &st) == 0 && st.st_size <= budget;
    std::vector<packer> packing(opts.queues, packer{frame_size});
    std::vector<uint32_t> chunks(opts.queues, 0);
    uint64_t file_packets = 0;
    if (preload) {
        read_packet p;
        while (first->next(p)) {
            ++file_packets;
            if (uint32_t bytes = classify(p, file_packets)) {
                packing[flow_queue(p.data, p.caplen, opts.queues)].place(bytes);
            }
        }
        uint64_t frames = 0;
        for (uint32_t q = 0; q < opts.queues; ++q) {
            // The TX and completion rings get as many slots as the UMEM has
            // chunks: at least 4096, so packing does not starve the rings.
            chunks[q] = std::max(next_pow2(packing[q].chunks()), 4096u);
            frames += chunks[q];
        }
        preload = int64_t(frames * frame_size) <= budget;
        t.file_packets = file_packets;
        if (file_packets == 0) {
            result.empty = true;
            return result;
        }
    }
    t.preloaded = preload;

    // Sockets, one UMEM each.
    std::unique_ptr<rx_program> program;
    if (opts.attach) {
        program = std::make_unique<rx_program>();  // its XSKMAP stays empty: it passes everything
    }
    std::vector<std::unique_ptr<xsk_queue>> xsks;
    for (uint32_t q = 0; q < opts.queues; ++q) {
        xsk_config cfg;
        cfg.direction = xsk_direction::tx;
        cfg.frame_size = frame_size;
        cfg.frame_count = preload ? chunks[q] : stream_frames;
        xsks.emplace_back(std::make_unique<xsk_queue>(dev.name, q, cfg, opts.bind));
    }
    if (program) {
        if (foreign) {
            info(dev.name + ": removing XDP program '" + foreign->name + "' (--force)");
            remove_attached(dev.ifindex, dev.name);
        }
        program->attach(dev.ifindex, dev.name, *opts.attach);
    }
    for (const auto& x : xsks) {
        info(dev.name + " TX queue " + std::to_string(x->queue()) + ": " + (x->zero_copy() ? "zero-copy" : "copy") +
             " mode" + (program ? std::string(", ") + to_string(program->mode()) + " XDP program attached" : ""));
    }

    // Tables (preload) or the reader's rings (stream).
    std::vector<std::vector<tx_item>> tables(opts.queues);
    std::vector<std::unique_ptr<boost::lockfree::spsc_queue<tx_item>>> feeds;
    std::vector<std::unique_ptr<boost::lockfree::spsc_queue<uint64_t>>> free_frames;
    std::atomic<bool> feed_done{false};
    tx_shared shared;
    shared.loops = opts.loops;
    shared.budget = opts.limit ? int64_t(opts.limit) : -1;
    if (preload) {
        replay_totals scratch;  // the counts were taken in the first pass
        classifier again{t.max_frame, frame_size, scratch};
        capture_reader r(opts.input);
        schedule_builder sched(opts.pace);
        std::vector<packer> place(opts.queues, packer{frame_size});
        read_packet p;
        uint64_t n = 0;
        while (r.next(p)) {
            uint32_t bytes = again(p, ++n);
            if (!bytes) {
                continue;
            }
            uint32_t q = flow_queue(p.data, p.caplen, opts.queues);
            uint64_t addr = place[q].place(bytes);
            std::memcpy(xsks[q]->area() + addr, p.data, bytes);
            tables[q].push_back(tx_item{addr, bytes, 0, sched.next(p.ts_ns, bytes)});
        }
        shared.loop_period_ns = sched.loop_period_ns();
        if (sched.packets() == 0) {
            info("all " + std::to_string(file_packets) + " packets of " + opts.input + " are skipped; nothing to send");
        }
    } else {
        for (uint32_t q = 0; q < opts.queues; ++q) {
            feeds.emplace_back(std::make_unique<boost::lockfree::spsc_queue<tx_item>>(stream_frames));
            free_frames.emplace_back(std::make_unique<boost::lockfree::spsc_queue<uint64_t>>(stream_frames));
            for (uint64_t f = 0; f < stream_frames; ++f) {
                free_frames[q]->push(f * frame_size);
            }
        }
    }
    if (t.skipped_too_big && preload) {
        info("skipping " + std::to_string(t.skipped_too_big) + " packet" + (t.skipped_too_big == 1 ? "" : "s") +
             " larger than " + dev.name + " takes (MTU " + std::to_string(dev.mtu) + ": " +
             std::to_string(t.max_frame) + " bytes, " + std::to_string(t.max_frame + 4) +
             " with a VLAN tag); the first is packet " + std::to_string(t.first_too_big) + " (" +
             std::to_string(t.first_too_big_len) + " bytes)");
    }

    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, nullptr);

    std::vector<std::unique_ptr<tx_queue_state>> states;
    for (uint32_t q = 0; q < opts.queues; ++q) {
        auto s = std::make_unique<tx_queue_state>();
        s->xsk = xsks[q].get();
        if (preload) {
            s->table = &tables[q];
        } else {
            s->feed = feeds[q].get();
            s->free_frames = free_frames[q].get();
            s->feed_done = &feed_done;
        }
        states.push_back(std::move(s));
    }

    shared.start_ns = monotonic_ns() + 1'000'000;  // 1 ms for the threads to start
    std::vector<std::thread> threads;
    std::thread reader;
    if (!preload) {
        first.reset();
        reader = std::thread([&] {
            name_current_thread("xcap-reader");
            replay_totals local;
            int64_t period = 0;
            for (uint64_t loop = 0; (opts.loops == 0 || loop < opts.loops) && !shared.stop; ++loop) {
                classifier c{t.max_frame, frame_size, local};
                capture_reader r(opts.input);
                schedule_builder sched(opts.pace);
                read_packet p;
                uint64_t n = 0;
                while (!shared.stop && r.next(p)) {
                    uint32_t bytes = c(p, ++n);
                    if (!bytes) {
                        continue;
                    }
                    uint32_t q = flow_queue(p.data, p.caplen, opts.queues);
                    int64_t due = sched.next(p.ts_ns, bytes) + int64_t(loop) * period;
                    uint64_t addr = 0;
                    while (!free_frames[q]->pop(addr)) {
                        if (shared.stop) {
                            break;
                        }
                        timespec nap{0, 20'000};
                        nanosleep(&nap, nullptr);
                    }
                    if (shared.stop) {
                        break;
                    }
                    std::memcpy(xsks[q]->area() + addr, p.data, bytes);
                    feeds[q]->push(tx_item{addr, bytes, 0, due});  // as many slots as frames
                }
                if (loop == 0) {
                    t.file_packets = n;
                    t.skipped_too_big = local.skipped_too_big;
                    t.skipped_too_short = local.skipped_too_short;
                    t.truncated = local.truncated;
                    t.first_too_big = local.first_too_big;
                    t.first_too_big_len = local.first_too_big_len;
                }
                period = sched.loop_period_ns();  // every pass schedules the same
                if (n == 0) {
                    break;
                }
            }
            feed_done.store(true, std::memory_order_release);
        });
    }
    std::vector<int> cpus = allowed_cpus();
    for (uint32_t q = 0; q < opts.queues; ++q) {
        threads.emplace_back([&, q] {
            name_current_thread("xcap-tx" + std::to_string(q));
            pin_current_thread(cpus[(cpus.size() - 1 - q % cpus.size())]);
            run_tx_worker(*states[q], shared);
        });
    }

    // The main thread: signals, --duration, the progress line.
    const int64_t deadline = opts.duration_s > 0 ? shared.start_ns + int64_t(opts.duration_s * 1e9) : 0;
    const uint64_t planned = preload ? [&] {
        uint64_t n = 0;
        for (const auto& tb : tables) {
            n += tb.size();
        }
        return n;
    }() : 0;
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
        timespec tick{0, 50'000'000};
        int sig = sigtimedwait(&sigs, nullptr, &tick);
        if (sig == SIGINT || sig == SIGTERM) {
            result.interrupted = true;
            shared.stop = true;
        }
        const int64_t now = monotonic_ns();
        if (deadline && now >= deadline) {
            shared.stop = true;
        }
        if (opts.progress && now - last_progress >= 500'000'000) {
            uint64_t sent = 0;
            for (const auto& s : states) {
                sent += s->completed.load(std::memory_order_relaxed);
            }
            double rate = last_progress ? double(sent - last_sent) / (double(now - last_progress) / 1e9) : 0;
            char line[256];
            if (planned && opts.loops) {
                uint64_t total = planned * opts.loops;
                double pct = 100.0 * double(sent) / double(total);
                double eta = rate > 0 ? double(total - std::min(sent, total)) / rate : 0;
                std::snprintf(line, sizeof(line), "%5.1f%% of %s, %" PRIu64 " sent, %.3f Mpps, ETA %.0f s", pct,
                              opts.input.c_str(), sent, rate / 1e6, eta);
            } else {
                std::snprintf(line, sizeof(line), "%" PRIu64 " sent, %.3f Mpps", sent, rate / 1e6);
            }
            progress(line);
            last_progress = now;
            last_sent = sent;
        }
    }
    shared.stop = true;
    for (auto& th : threads) {
        th.join();
    }
    if (reader.joinable()) {
        reader.join();
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
    if (t.file_packets == 0) {
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
                  t.preloaded ? " (preloaded)" : " (streamed)");
    s += b;
    if (t.paced && t.errors.count()) {
        s += "send-time error against the schedule: p50 " + human_ns(t.errors.quantile(0.5)) + ", p99 " +
             human_ns(t.errors.quantile(0.99)) + ", max " + human_ns(t.errors.max()) + "\n";
    }
    if (t.skipped_too_big || t.skipped_too_short || t.truncated) {
        std::snprintf(b, sizeof(b),
                      "skipped %" PRIu64 " larger than %s takes (%u bytes, %u with a VLAN tag) and %" PRIu64
                      " shorter than an Ethernet header; sent %" PRIu64 " as captured though shorter than on the wire\n",
                      t.skipped_too_big, device.c_str(), t.max_frame, t.max_frame + 4, t.skipped_too_short, t.truncated);
        s += b;
    }
    for (const auto& q : t.queues) {
        std::snprintf(b, sizeof(b), "TX queue %u: %" PRIu64 " sent, tx_invalid_descs %llu, tx_ring_empty_descs %llu\n",
                      q.queue, q.sent, (unsigned long long)q.xsk.tx_invalid_descs,
                      (unsigned long long)q.xsk.tx_ring_empty_descs);
        s += b;
    }
    return s;
}

}  // namespace xcap
