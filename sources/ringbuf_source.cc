#include "sources/ringbuf_source.h"

#include <linux/bpf.h>
#include <sys/mman.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include <atomic>
#include <cerrno>

#include "bpf/xcap_abi.h"
#include "common/counter.h"
#include "common/error.h"

namespace xcap {
namespace {

uint64_t load_acquire(const uint64_t* p) {
    return std::atomic_ref<const uint64_t>(*p).load(std::memory_order_acquire);
}

uint32_t load_acquire32(const uint8_t* p) {
    return std::atomic_ref<const uint32_t>(*reinterpret_cast<const uint32_t*>(p)).load(std::memory_order_acquire);
}

void store_release(uint64_t* p, uint64_t v) { std::atomic_ref<uint64_t>(*p).store(v, std::memory_order_release); }

// A record's footprint in the ring: its 8-byte header and sample, rounded up to 8.
uint64_t footprint(uint32_t len) { return (uint64_t(len) + BPF_RINGBUF_HDR_SZ + 7) & ~uint64_t(7); }

constexpr uint32_t len_mask = ~(uint32_t(BPF_RINGBUF_BUSY_BIT) | uint32_t(BPF_RINGBUF_DISCARD_BIT));

}  // namespace

ringbuf_source::ringbuf_source(int map_fd, options opts) : _fd(map_fd), _opts(std::move(opts)) {
    bpf_map_info info{};
    uint32_t info_len = sizeof(info);
    if (bpf_obj_get_info_by_fd(map_fd, &info, &info_len) != 0) {
        throw failure(failure_kind::runtime, errno, "cannot read the ring buffer map's description");
    }
    const size_t page = size_t(sysconf(_SC_PAGESIZE));
    _size = info.max_entries;
    _consumer_map = mmap(nullptr, page, PROT_READ | PROT_WRITE, MAP_SHARED, map_fd, 0);
    if (_consumer_map == MAP_FAILED) {
        _consumer_map = nullptr;
        throw failure(failure_kind::runtime, errno, "cannot map the ring buffer's consumer page");
    }
    // The producer page, then the data pages mapped twice in a row by the
    // kernel, so a record that wraps is contiguous here.
    _producer_map_len = page + 2 * _size;
    _producer_map = mmap(nullptr, _producer_map_len, PROT_READ, MAP_SHARED, map_fd, off_t(page));
    if (_producer_map == MAP_FAILED) {
        _producer_map = nullptr;
        munmap(_consumer_map, page);
        throw failure(failure_kind::runtime, errno, "cannot map the ring buffer's data pages");
    }
    _consumer_pos = static_cast<uint64_t*>(_consumer_map);
    _producer_pos = static_cast<const uint64_t*>(_producer_map);
    _data = static_cast<const uint8_t*>(_producer_map) + page;
    _mask = _size - 1;
    _peek_pos = load_acquire(_consumer_pos);
}

ringbuf_source::ringbuf_source(const plain_ring& ring, options opts)
    : _consumer_pos(ring.consumer_pos),
      _producer_pos(ring.producer_pos),
      _data(ring.data),
      _size(ring.size),
      _mask(ring.size - 1),
      _opts(std::move(opts)) {
    _peek_pos = load_acquire(_consumer_pos);
}

ringbuf_source::~ringbuf_source() {
    if (_producer_map) {
        munmap(_producer_map, _producer_map_len);
    }
    if (_consumer_map) {
        munmap(_consumer_map, size_t(sysconf(_SC_PAGESIZE)));
    }
}

void ringbuf_source::name_program(uint32_t prog_id, const std::string& name) {
    for (auto& p : _programs) {
        if (p.id == prog_id) {
            p.entry = "entry " + name;
            p.exit = "exit " + name;
            return;
        }
    }
    _programs.push_back({prog_id, "entry " + name, "exit " + name});
}

uint32_t ringbuf_source::interface_of(uint32_t ifindex) {
    if (ifindex == _last_ifindex) {
        return _last_interface;
    }
    uint32_t index = 0;
    for (const auto& [ifi, idx] : _opts.interfaces) {
        if (ifi == ifindex) {
            index = idx;
            break;
        }
    }
    _last_ifindex = ifindex;
    _last_interface = index;
    return index;
}

const char* ringbuf_source::comment_for(uint32_t prog_id, uint32_t flags) {
    if (!(flags & (XCAP_RECORD_ENTRY | XCAP_RECORD_EXIT))) {
        return nullptr;
    }
    const bool entry = flags & XCAP_RECORD_ENTRY;
    for (const auto& p : _programs) {
        if (p.id == prog_id) {
            return entry ? p.entry.c_str() : p.exit.c_str();
        }
    }
    // Unnamed: name it by id once; the string lives as long as the source.
    name_program(prog_id, "prog " + std::to_string(prog_id));
    return comment_for(prog_id, flags);
}

size_t ringbuf_source::peek(record_ref* out, size_t max) {
    const uint64_t producer = load_acquire(_producer_pos);
    size_t n = 0;
    uint64_t bytes = 0;
    uint64_t pos = _peek_pos;
    while (n < max && pos < producer) {
        const uint8_t* hdr = _data + (pos & _mask);
        const uint32_t word = load_acquire32(hdr);
        if (word & BPF_RINGBUF_BUSY_BIT) {
            break;  // reserved, not committed yet
        }
        const uint32_t len = word & len_mask;
        pos += footprint(len);
        if ((word & BPF_RINGBUF_DISCARD_BIT) || len < sizeof(xcap_ring_record)) {
            continue;  // given up by its program (or not ours): its space goes back with the next release
        }
        const auto* rec = reinterpret_cast<const xcap_ring_record*>(hdr + BPF_RINGBUF_HDR_SZ);
        const uint32_t cap_len = rec->cap_len <= len - sizeof(xcap_ring_record) ? rec->cap_len
                                                                                : uint32_t(len - sizeof(xcap_ring_record));
        record_ref& r = out[n++];
        r.data = reinterpret_cast<const uint8_t*>(rec + 1);
        r.ts_ns = rec->ts_ns;
        r.cookie = pos;  // where the consumer may move once this record is released
        r.len = cap_len;
        r.cap = 0;
        r.drops_before = 0;
        r.stamped = 1;
        r.wire_len = rec->wire_len > cap_len ? rec->wire_len : 0;
        r.queue = rec->rx_queue;
        r.interface = interface_of(rec->ifindex);
        r.verdict = rec->action;
        r.packet_id = rec->packet_id;
        r.comment = comment_for(rec->prog_id, rec->flags);
        r.segs = nullptr;
        r.outbound = (rec->flags & XCAP_RECORD_OUT) != 0;
        r.nic_ts_ns = rec->nic_ts_ns;
        bytes += rec->wire_len;
    }
    _peek_pos = pos;
    if (n == 0) {
        if (_outstanding == 0 && load_acquire(_consumer_pos) != pos) {
            store_release(_consumer_pos, pos);  // only discarded records were passed
        }
        return 0;
    }
    _outstanding += n;
    delivered(out, n, bytes);
    return n;
}

void ringbuf_source::release(const record_ref* records, size_t n) {
    if (n == 0) {
        return;
    }
    // Records are released in peek order: the last one's end is the new
    // consumer position (discarded records before it go back with it).
    store_release(_consumer_pos, records[n - 1].cookie);
    _outstanding -= n;
}

packet_source::quiet_state ringbuf_source::quiet() {
    const uint64_t producer = load_acquire(_producer_pos);
    if (_peek_pos >= producer) {
        return quiet_state::quiet;
    }
    const uint32_t word = load_acquire32(_data + (_peek_pos & _mask));
    return (word & BPF_RINGBUF_BUSY_BIT) ? quiet_state::in_flight : quiet_state::available;
}

packet_source::arm_state ringbuf_source::arm(uint32_t batch) {
    if (!_opts.lazy_wake) {
        return arm_state::unsupported;
    }
    _opts.lazy_wake(batch > 1);  // a sequentially consistent store, then this load
    return __atomic_load_n(_producer_pos, __ATOMIC_SEQ_CST) > _peek_pos ? arm_state::ready : arm_state::armed;
}

size_t ringbuf_source::backlog() const {
    const uint64_t producer = load_acquire(_producer_pos);
    return producer > _peek_pos ? size_t((producer - _peek_pos) / 64) : 0;
}

void ringbuf_source::sample_drops() {
    if (!_opts.lost) {
        return;
    }
    const uint64_t lost = _opts.lost();
    if (lost > _lost_seen) {
        _drops_pending += lost - _lost_seen;
        _lost_seen = lost;
    }
}

}  // namespace xcap
