#pragma once

#include <algorithm>
#include <cstdint>

namespace xcap {

// How a replay is paced, as tcpreplay spells it.
enum class pace_mode { original, pps, mbps, topspeed };

struct pacing {
    pace_mode mode = pace_mode::original;
    double multiplier = 1.0;    // original timing, gaps divided by this
    double pps = 0;             // packets per second
    double mbps = 0;            // megabits per second of frame bytes
    int64_t loop_delay_ns = 0;  // pause between the end of one loop and the next
};

// Turns a file's packets, in order, into due times: the offset in
// nanoseconds after the replay's start at which each packet of the first
// loop is due. The schedule is absolute (packet i is due at start + its own
// offset), so a late packet never delays the ones after it. Loop k adds
// k × loop_period_ns() to every offset.
class schedule_builder {
public:
    explicit schedule_builder(const pacing& p) : _p(p) {}

    // The next packet: its capture timestamp and the bytes that will be sent.
    int64_t next(uint64_t ts_ns, uint32_t bytes) {
        int64_t due = 0;
        switch (_p.mode) {
            case pace_mode::original:
                if (_count == 0) {
                    _first_ts = ts_ns;
                }
                // Timestamps that run backwards are sent at once, never early.
                due = ts_ns > _first_ts ? to_ns(double(ts_ns - _first_ts) / _p.multiplier) : 0;
                due = std::max(due, _last_due);
                break;
            case pace_mode::pps:
                due = to_ns(double(_count) * 1e9 / _p.pps);
                break;
            case pace_mode::mbps:
                due = to_ns(double(_bits) * 1e3 / _p.mbps);
                break;
            case pace_mode::topspeed:
                due = 0;
                break;
        }
        _last_due = due;
        ++_count;
        _bits += uint64_t(bytes) * 8;
        return due;
    }

    // Offset of loop k+1's first packet relative to loop k's: the time the
    // loop's packets take at this pace, plus the loop delay.
    int64_t loop_period_ns() const {
        int64_t span = 0;
        switch (_p.mode) {
            case pace_mode::original: span = _last_due; break;
            case pace_mode::pps: span = to_ns(double(_count) * 1e9 / _p.pps); break;
            case pace_mode::mbps: span = to_ns(double(_bits) * 1e3 / _p.mbps); break;
            case pace_mode::topspeed: span = 0; break;
        }
        return std::min(span + _p.loop_delay_ns, max_offset_ns);
    }

    uint64_t packets() const { return _count; }

    // Offsets are capped here (about 31 years): far enough to be "never",
    // near enough that adding loops cannot overflow int64.
    static constexpr int64_t max_offset_ns = 1'000'000'000'000'000'000;

private:
    static int64_t to_ns(double v) { return v >= double(max_offset_ns) ? max_offset_ns : int64_t(v); }

    pacing _p;
    uint64_t _first_ts = 0;
    uint64_t _count = 0;
    uint64_t _bits = 0;
    int64_t _last_due = 0;
};

// When a packet due at `first_loop_due` in the first loop is due in loop
// `loop`: saturating, so a long --loop-delay times many loops means "never",
// not a wrapped, negative (at once) time.
inline int64_t due_in_loop(int64_t first_loop_due, uint64_t loop, int64_t period) {
    int64_t add = 0;
    int64_t due = 0;
    if (__builtin_mul_overflow(int64_t(loop), period, &add) || __builtin_add_overflow(first_loop_due, add, &due)) {
        return schedule_builder::max_offset_ns;
    }
    return std::min(due, schedule_builder::max_offset_ns);
}

// Send-time error (actual − due) in nanoseconds: a log-linear histogram with
// 16 sub-buckets per power of two (relative error under 6.25%), fixed size,
// no allocation when recording. One per thread; merge() at the end.
class error_histogram {
public:
    void record(uint64_t v) {
        ++_buckets[index(v)];
        ++_count;
        _max = std::max(_max, v);
    }
    void merge(const error_histogram& o) {
        for (size_t i = 0; i < buckets; ++i) {
            _buckets[i] += o._buckets[i];
        }
        _count += o._count;
        _max = std::max(_max, o._max);
    }
    uint64_t count() const { return _count; }
    uint64_t max() const { return _max; }
    // The value at quantile q (0..1): the upper edge of its bucket, capped at max().
    uint64_t quantile(double q) const {
        if (_count == 0) {
            return 0;
        }
        uint64_t rank = uint64_t(q * double(_count - 1)) + 1;
        uint64_t seen = 0;
        for (size_t i = 0; i < buckets; ++i) {
            seen += _buckets[i];
            if (seen >= rank) {
                return std::min(upper(i), _max);
            }
        }
        return _max;
    }

    static constexpr size_t buckets = 64 * 16;
    static size_t index(uint64_t v) {
        if (v < 16) {
            return size_t(v);
        }
        int msb = 63 - __builtin_clzll(v);
        size_t sub = size_t(v >> (msb - 4)) & 15;
        return size_t(msb - 3) * 16 + sub;
    }
    static uint64_t upper(size_t i) {
        if (i < 16) {
            return i;
        }
        int msb = int(i / 16) + 3;
        uint64_t sub = i % 16;
        return ((16 + sub + 1) << (msb - 4)) - 1;
    }

private:
    uint64_t _buckets[buckets] = {};
    uint64_t _count = 0;
    uint64_t _max = 0;
};

// Which of `queues` TX queues a frame goes out of: the same for every frame
// of one flow (addresses, protocol and ports of IPv4 or IPv6, behind up to
// two VLAN tags), so per-flow order holds; other frames by their MAC pair.
uint32_t flow_queue(const uint8_t* frame, uint32_t len, uint32_t queues);

}  // namespace xcap
