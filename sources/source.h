#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "common/counter.h"
#include "pcap/packet.h"

namespace xcap {

// One packet as a source hands it to the writer: read in place (in a UMEM,
// later in a BPF ring buffer), valid until the source is told it is done.
struct record_ref {
    const uint8_t* data;
    uint64_t ts_ns;         // CLOCK_MONOTONIC, as bpf_ktime_get_ns() stamped it
    uint64_t cookie;        // the source's own handle (a UMEM frame address, a ring offset)
    uint32_t len;           // bytes present at `data`
    uint32_t cap;           // at most this many to keep (a filter's `ret k`); 0 = no cap
    uint32_t drops_before;  // packets this source lost since its previous record (saturating)
    uint32_t stamped;       // 0 when the program left no stamp (stamped in user space)
    uint32_t wire_len;      // the packet's length on the wire when more than `len`; else 0
    uint32_t queue;         // RX queue (epb_queue)
    uint32_t interface;     // index of the interface in the output (pcapng IDB)
    int32_t verdict;        // XDP action to record (epb_verdict); -1 = none
    uint64_t packet_id;     // epb_packetid given by the source (trace pairs); 0 = the writer numbers it
    const char* comment;    // pcapng opt_comment, owned by the source; null = none
    // The bytes in pieces (a multi-buffer packet read in place), `data` being
    // the first piece's; null = all `len` bytes at `data`. Owned by the source.
    const segment* segs;
    uint32_t outbound = 0;  // 1: the host sent it (egress; pcapng epb_flags outbound)
    uint64_t nic_ts_ns = 0; // the NIC's receive time (-j adapter_unsynced), written instead of ts_ns; 0 = none
};

// Where an AF_XDP source's batched wake-up arrives (capture/rx_program): one
// per XDP program, shared by its queues' sources.
class doorbell {
public:
    virtual ~doorbell() = default;
    // Readable once an armed queue gathered its batch.
    virtual int fd() const = 0;
    // Empties it after a wake-up (no syscall).
    virtual void clear() = 0;
    // The longest the writer may wait on it for "the next record" (-1: no
    // bound): a bell that can miss that wake-up in a race gives a bound.
    virtual int64_t longest_wait_ns() const { return -1; }
};

// Counters a source keeps: written by the capture thread with relaxed
// stores, read by anyone for statistics.
struct source_counters {
    std::atomic<uint64_t> received{0};
    std::atomic<uint64_t> received_bytes{0};
};

// Where the writer takes packets from. The writer owns every source and
// drives it from one thread; peek/release come in batches, never per packet
// (one virtual call per batch).
//
// Order: a source yields its records in the order it received them, and the
// writer releases them in that order.
class packet_source {
public:
    virtual ~packet_source() = default;

    // Up to `max` records not yet peeked, oldest first.
    virtual size_t peek(record_ref* out, size_t max) = 0;
    // Done with these records (the oldest peeked and not yet released, in
    // order): their memory goes back to the kernel.
    virtual void release(const record_ref* records, size_t n) = 0;

    // Whether a record stamped before the caller's clock reading `t` can
    // still come, asked when peek() found nothing; the caller reads the clock
    // first, then asks.
    enum class quiet_state {
        quiet,      // nothing stamped before `t` is still to come
        in_flight,  // a record is on its way (stamped, not yet published)
        available,  // records arrived since the last peek: peek again
    };
    virtual quiet_state quiet() = 0;
    // Records published by the kernel and not yet peeked: what waits.
    virtual size_t backlog() const = 0;

    // Readable when records may be there, for poll() when idle; -1 if none.
    virtual int wait_fd() const = 0;

    // Batched sleep (see capture_writer::run), for a source whose kernel side
    // can count what it delivers: asked when the writer found nothing, it
    // arms the source to ring its doorbell once `batch` more records have
    // arrived (1: at the next one). `ready` means records came meanwhile: do
    // not sleep. A source that cannot says `unsupported`.
    enum class arm_state { unsupported, armed, ready };
    virtual arm_state arm(uint32_t batch) {
        (void)batch;
        return arm_state::unsupported;
    }
    virtual doorbell* bell() const { return nullptr; }
    // Looks at the kernel's drop counters now (a syscall): done when the
    // capture goes idle and every so many batches.
    virtual void sample_drops() = 0;

    virtual uint32_t queue() const = 0;
    const source_counters& counters() const { return _counters; }

    // The interface (its index among the output's interfaces) this source's
    // records belong to, for a source of one interface.
    void set_interface(uint32_t index) { _interface = index; }

protected:
    // The end of every peek that found `n` (> 0) records of `bytes`: the
    // drops not yet attributed go to the first of them (pcapng's
    // epb_dropcount, saturating), and the counters.
    void delivered(record_ref* out, size_t n, uint64_t bytes) {
        if (_drops_pending) {
            out[0].drops_before = _drops_pending > UINT32_MAX ? UINT32_MAX : uint32_t(_drops_pending);
            _drops_pending = 0;
        }
        bump(_counters.received, n);
        bump(_counters.received_bytes, bytes);
    }

    source_counters _counters;
    uint32_t _interface = 0;
    uint64_t _drops_pending = 0;  // the source's losses not yet attributed to a record
};

}  // namespace xcap
