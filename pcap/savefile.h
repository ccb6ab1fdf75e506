#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "pcap/disk_writer.h"
#include "pcap/output.h"
#include "pcap/packet.h"
#include "pcap/pcap_writer.h"
#include "pcap/pcapng_writer.h"

namespace xcap {

enum class file_format { pcap, pcapng };

// A -z command that did not end well, for one line on stderr.
struct post_rotate_failure {
    std::string file;
    int wait_status = 0;   // as waitpid() reports it, when the command ran
    int spawn_errno = 0;   // non-zero when the command could not be started
    // "-z command for FILE exited with status N" (or "was killed by signal
    // N", or "could not be started: REASON").
    std::string message() const;
};

// A -z command close() stopped waiting for; it may still be running.
struct post_rotate_pending {
    std::string file;
    pid_t pid = 0;
};

// The first failure of the output, for one line on stderr: errno and the
// file it happened on ("standard output" for "-").
struct output_failure {
    int error = 0;
    std::string file;
    bool removed = false;  // nothing of the file could be written, so it was removed
    bool empty = false;    // ... and it was left empty (xcap did not make it, or could not remove it)
};

// "x.pcapng" → pcapng; anything else → pcap.
file_format format_for_path(const std::string& path);

// One rule for the format of every mode's output file: --format when given
// (`asked`); otherwise by the name, ".pcapng" is pcapng and ".pcap" is pcap;
// otherwise the mode's own default, `otherwise`: pcap for a capture (as
// tcpdump writes), pcapng for a trace (its verdicts and entry/exit pairs
// need it).
file_format output_format(const std::optional<file_format>& asked, const std::string& path, file_format otherwise);

struct savefile_config {
    std::string path;              // "-" for standard output (no rotation)
    file_format format = file_format::pcap;
    bool nanosecond = true;
    uint64_t rotate_bytes = 0;     // -C: start a new file before one would exceed this
    uint32_t rotate_seconds = 0;   // -G: start a new file every this many seconds (strftime names)
    uint32_t max_files = 0;        // -W: with -C alone a ring of this many files; with -G stop after this many
    std::string post_rotate;       // -z: run `sh -c '<cmd> "$1"' sh <file>` on each finished file
    bool packet_buffered = false;  // -U: end_batch() flushes regular files too
    size_t buffer_size = output::default_buffer;
    // --buffer-len: memory between the capture thread and a disk. When the
    // first file is a regular file on a file system that takes O_DIRECT, a
    // pool this large is mapped once and every file is written with direct
    // I/O by a thread of its own (disk_writer); 0 = write() from the
    // writer's thread through the page cache, as for tmpfs and streams.
    size_t disk_buffer = 0;
    size_t disk_block = 4 << 20;
    // Tests only: the disk writer's before_write (hold it, or fail a write).
    std::function<int(const disk_job&)> disk_before_write;
    // Nothing the user had is touched until begin(): the first file is
    // opened at construction (so an unwritable path fails then) but an
    // existing file keeps its bytes, and one created here is removed, when
    // the set is destroyed before begin() (a setup step refused).
    bool wait_for_begin = false;
    // Told about each -z command that failed, as soon as it is reaped (on
    // rotation, or in close()), on the thread that owns the savefile_set.
    // Optional: post_rotate_failures() keeps them all anyway.
    std::function<void(const post_rotate_failure&)> post_rotate_report;
};

// The name of file number `index` (0-based) of a rotation, as tcpdump names
// them: with -C the count is appended ("x.pcap", "x.pcap1", ... or, with -W,
// "x.pcap0", "x.pcap1", ... zero-padded to the width of W-1); with -G the
// path is first put through strftime() for `when` (seconds since the epoch).
std::string rotation_name(const savefile_config& cfg, uint64_t index, int64_t when);

// A capture's output: one file, or a rotating set of them. Every file is
// complete on its own (its own headers, whole packets only, and for pcapng an
// Interface Statistics Block per interface at its end).
//
// Faults: the first failed write (or a rotated file that cannot be opened)
// fails the set for good: nothing more is written and no further file is
// opened. The file that failed is cut back to its last whole record (pcap
// record, or pcapng block after an intact SHB and IDBs), so it still reads
// to the end. With direct I/O the failure may be found after later files
// were opened (a rotation does not wait for the disk): the writer wrote
// none of them, and those it created are removed. Every packet write() accepted is
// then either in a file, counted by packets_in_files(), or lost, counted
// by packets_lost(); their sum is the number of packets accepted. The
// counting costs nothing per packet: the failed buffer is walked once.
//
// Threading: one thread (the writer) owns it. The statistics source and
// post_rotate_report are called on that thread.
class savefile_set {
public:
    using statistics_source = std::function<std::vector<interface_statistics>()>;

    // Opens the first file. Throws xcap::failure (kind output) naming the file.
    // An existing file is truncated only when the first bytes are written.
    savefile_set(savefile_config cfg, section_description section, std::vector<interface_description> ifaces,
                 statistics_source stats = {});
    ~savefile_set();
    savefile_set(const savefile_set&) = delete;
    savefile_set& operator=(const savefile_set&) = delete;

    // With wait_for_begin: the capture is on; from now on the files are
    // written and kept.
    void begin() { _begun = true; }

    enum class result { written, cut, files_done };

    // Writes one packet, rotating first when it is due. `files_done` means
    // -W with -G has finished its last file: the packet was not written and
    // the capture should stop. A failed output is reported by failed().
    result write(uint64_t ts_ns, const uint8_t* data, uint32_t len, const packet_meta& meta) {
        if (_done) {
            return result::files_done;
        }
        // An upper bound on what this packet adds, plus room for the
        // statistics blocks that end a pcapng file, so no file exceeds -C.
        const uint64_t record = _cfg.format == file_format::pcap ? sizeof(pcap_record_header) + len
                                                                 : pcapng::epb_max_overhead + len +
                                                                       (meta.comment ? pcapng::comment_overhead +
                                                                                           uint32_t(std::strlen(meta.comment))
                                                                                     : 0);
        if ((_cfg.rotate_bytes && _packets_in_file > 0 &&
             _out->bytes_total() + record + _trailer_bytes > _cfg.rotate_bytes) ||
            (_cfg.rotate_seconds && ts_ns >= _next_rotation_ns)) {
            if (!rotate(ts_ns)) {
                return result::files_done;
            }
        }
        ++_packets_in_file;
        bool cut = _cfg.format == file_format::pcap ? _pcap->write(ts_ns, data, len, meta.cap, meta.wire_len, meta.segs)
                                                    : _pcapng->write(ts_ns, data, len, meta);
        return cut ? result::cut : result::written;
    }

    struct run_result {
        size_t written = 0;       // accepted, from the first on (the rest were not written)
        uint64_t cut = 0;         // ... of which the snaplen cut
        bool files_done = false;  // stopped because -W with -G finished its last file
    };

    // A run of packets, as write() one by one would take them, but in one
    // loop when no rotation is configured (the common case: the format's
    // writer inlined, no per-packet checks). Stops at the first packet after
    // the output failed, as a caller checking failed() before each write()
    // would. `R` has ts_ns (`ts_offset` is added), data, len, cap (0 =
    // none), wire_len and segs; `meta_of(r, i)` gives the i-th packet's
    // packet_meta, asked only for pcapng.
    template <class R, class MetaOf>
    run_result write_run(const R* recs, size_t n, uint64_t ts_offset, MetaOf&& meta_of) {
        run_result res;
        if (!_done && !_cfg.rotate_bytes && !_cfg.rotate_seconds) {
            if (_pcap) {
                res.written = _pcap->write_run(recs, n, ts_offset, res.cut);
            } else {
                size_t i = 0;
                for (; i < n && !_out->failed(); ++i) {
                    res.cut += _pcapng->write(recs[i].ts_ns + ts_offset, recs[i].data, recs[i].len, meta_of(recs[i], i));
                }
                res.written = i;
            }
            _packets_in_file += res.written;
            return res;
        }
        for (size_t i = 0; i < n && !failed(); ++i) {
            const R& r = recs[i];
            const result w = write(r.ts_ns + ts_offset, r.data, r.len, meta_of(r, i));
            if (w == result::files_done) {
                res.files_done = true;
                break;
            }
            ++res.written;
            res.cut += w == result::cut;
        }
        return res;
    }

    // Where the Interface Statistics Blocks get their counts (pcapng only).
    void set_statistics_source(statistics_source stats) {
        _stats = std::move(stats);
        if (_cfg.format == file_format::pcapng && _stats) {
            _trailer_bytes = pcapng::isb_size * _ifaces.size();
        }
    }

    bool flush() {
        tend();
        return _out ? _out->flush() : !failed();
    }
    // The writer calls this after each batch of packets: flushes when the
    // output is a stream (someone reads it live) or -U asked for it, so at
    // most one write() per batch; otherwise the buffer fills first. Returns
    // false once the output has failed.
    bool end_batch() {
        if (!_finishing.empty()) {
            tend();
        }
        return _flush_each_batch ? flush() : !failed();
    }
    // With direct I/O a rotation does not wait for the disk: the finished
    // file is left to the writer thread, and completed (closed, counted,
    // its -z command started) once its last write is back. This looks,
    // without waiting; the writer calls it after each batch and, while it
    // returns true (files are still being written), at least every few
    // milliseconds when idle.
    bool tend();

    // Finishes the last file (statistics blocks, flush, close, -z hook) and
    // waits for the -z commands. Idempotent. The destructor closes too, but
    // without statistics blocks (the source may be gone by then): call
    // close() to end a file completely.
    //
    // With `abandon`, the wait polls every 10 ms and stops as soon as
    // `abandon` is true (e.g. a second Ctrl-C); the commands not waited for
    // are left running and listed by post_rotate_abandoned(). Returns true
    // when every -z command was waited for.
    bool close(const std::atomic<bool>* abandon = nullptr);
    // The same with a predicate polled every 10 ms on the calling thread,
    // e.g. a sigtimedwait() with a zero timeout for a blocked SIGINT.
    bool close(const std::function<bool()>& abandon);

    bool failed() const { return error() != 0; }
    // errno of the first failure of any file so far, or 0.
    int error() const;
    // The first failure with the file it happened on; {0, ""} when none.
    output_failure output_error() const;
    bool is_stdout() const { return _cfg.path == "-"; }
    // Standard output or a non-regular file (FIFO, socket, character
    // device): the writer flushes it whenever it goes idle.
    bool is_stream() const { return _is_stream; }
    const std::string& current_name() const { return _name; }
    // The file open now becomes uid's and gid's (output::give_to): 0 or the errno.
    int give_to(uid_t uid, gid_t gid) { return _out ? _out->give_to(uid, gid) : 0; }
    // The files written, for the summary: the one file's name, or with
    // rotation "FIRST .. LAST (N files)" (a -W ring: the names it used), or
    // "no file" when the only one was removed (nothing of it was written).
    std::string files_description() const;
    uint64_t files_opened() const { return _files_opened; }

    // Packets write() accepted (returned written or cut) and not lost.
    // Exact after close() (or a flush()): the packet records the files hold
    // (with a -W ring, also those in files the ring later overwrote). Before
    // that, buffered packets count as in the files until a flush fails.
    uint64_t packets_in_files() const { return packets_accepted() - packets_lost() - packets_buffer_full(); }
    // Packets write() accepted that are in no file: after the first failure,
    // those that did not reach the file whole, and every one accepted since.
    // Exact after close() (or a flush()).
    uint64_t packets_lost() const;
    // Their lengths on the wire, summed.
    uint64_t wire_bytes_lost() const;
    uint64_t packets_accepted() const { return _accepted_closed + _packets_in_file; }
    // Packets write() accepted and dropped because the disk buffer
    // (--buffer-len) was full, and their lengths on the wire. Any thread.
    uint64_t packets_buffer_full() const { return _disk ? _disk->packets_full.load(std::memory_order_relaxed) : 0; }
    uint64_t wire_bytes_buffer_full() const {
        return _disk ? _disk->wire_bytes_full.load(std::memory_order_relaxed) : 0;
    }
    // How the files are written, for -v: "direct I/O, ..." or why not.
    const std::string& write_path() const { return _write_path; }

    // -z commands that exited non-zero, were killed, or could not start.
    const std::vector<post_rotate_failure>& post_rotate_failures() const { return _hook_failures; }
    // -z commands close() stopped waiting for.
    const std::vector<post_rotate_pending>& post_rotate_abandoned() const { return _hooks_abandoned; }

private:
    // A file handed to the writer thread, not yet complete.
    struct finishing_file {
        std::unique_ptr<output> out;
        std::string name;
        bool is_file = false;  // not standard output, not the failed stand-in
    };

    void open(int64_t when_s);
    void finish_file(bool wait);
    void complete(finishing_file f);
    void wait_for_file(const std::string& name);
    bool rotate(uint64_t ts_ns);
    void start_writer();
    void use_disk();
    void keep_failed_output(int err);
    void report(post_rotate_failure f);
    void reaped(const post_rotate_pending& h, int status);
    void reap_finished_hooks();
    bool close_polling(const std::function<bool()>* abandon);

    savefile_config _cfg;
    section_description _section;
    std::vector<interface_description> _ifaces;
    statistics_source _stats;
    std::unique_ptr<disk_writer> _disk;  // outlives every output that uses it
    std::vector<finishing_file> _finishing;  // oldest first, as the writer thread writes them
    std::string _write_path;
    std::string _stall_caveat;  // output::stall_caveat() of the first file
    std::unique_ptr<output> _out;
    std::unique_ptr<pcap_writer> _pcap;
    std::unique_ptr<pcapng_writer> _pcapng;
    std::string _name;
    uint64_t _files_opened = 0;     // files opened so far (all time)
    uint64_t _index_in_period = 0;  // -C count within the current -G period
    uint64_t _packets_in_file = 0;
    uint64_t _next_rotation_ns = 0;
    uint64_t _start_ns = 0;
    uint64_t _trailer_bytes = 0;    // the ISBs a pcapng file ends with
    uint64_t _accepted_closed = 0;  // packets accepted by files already finished
    uint64_t _lost_closed = 0;      // ... of which lost
    uint64_t _wire_lost_closed = 0;
    int _failed_errno = 0;          // a failure of a file already finished, or of an open
    std::string _failed_file;
    bool _failed_removed = false;   // _failed_file held nothing and was removed
    bool _failed_empty = false;     // _failed_file holds nothing and was left
    std::string _last_kept;         // the last file completed and kept
    bool _closed = false;
    bool _begun = false;
    std::string _first_name;        // of the files kept
    bool _done = false;             // -W with -G: the last file is finished
    bool _placeholder = false;      // _out is the failed stand-in, not a file
    bool _is_stream = false;
    bool _flush_each_batch = false;
    std::vector<post_rotate_pending> _hooks;
    std::vector<post_rotate_failure> _hook_failures;
    std::vector<post_rotate_pending> _hooks_abandoned;
};

}  // namespace xcap
