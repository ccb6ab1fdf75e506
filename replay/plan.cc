#include "replay/plan.h"

#include <sys/stat.h>
#include <sys/sysinfo.h>

#include <algorithm>

#include "replay/schedule.h"

namespace xcap {
namespace {

bool vlan_tagged(const uint8_t* f, uint32_t len) {
    return len >= 14 && ((f[12] == 0x81 && f[13] == 0x00) || (f[12] == 0x88 && f[13] == 0xa8));
}

uint32_t next_pow2(uint64_t n) {
    uint32_t p = 64;
    while (p < n && p < (1u << 30)) {
        p <<= 1;
    }
    return p;
}

}  // namespace

uint32_t classifier::operator()(const read_packet& p, uint64_t number) {
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

uint64_t packer::place(uint32_t len) {
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

int64_t preload_budget(const replay_options& opts) {
    if (opts.preload_bytes >= 0) {
        return opts.preload_bytes;
    }
    struct sysinfo si{};
    int64_t ram = sysinfo(&si) == 0 ? int64_t(si.totalram) * si.mem_unit : 0;
    return std::min<int64_t>(ram / 4, int64_t(1) << 30);
}

preload_plan plan_preload(const replay_options& opts, replay_input& input, const classifier& proto,
                          std::exception_ptr& read_failure) {
    preload_plan plan;
    const int64_t budget = preload_budget(opts);
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

}  // namespace xcap
