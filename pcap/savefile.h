#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "pcap/output.h"
#include "pcap/packet.h"
#include "pcap/pcap_writer.h"
#include "pcap/pcapng_writer.h"

namespace xcap {

enum class file_format { pcap, pcapng };

// "x.pcapng" → pcapng; anything else → pcap.
file_format format_for_path(const std::string& path);

struct savefile_config {
    std::string path;              // "-" for standard output (no rotation)
    file_format format = file_format::pcap;
    bool nanosecond = true;
    uint64_t rotate_bytes = 0;     // -C: start a new file before one would exceed this
    uint32_t rotate_seconds = 0;   // -G: start a new file every this many seconds (strftime names)
    uint32_t max_files = 0;        // -W: with -C alone a ring of this many files; with -G stop after this many
    std::string post_rotate;       // -z: run `sh -c '<cmd> "$1"' sh <file>` on each finished file
    size_t buffer_size = output::default_buffer;
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
// Threading: one thread (the writer) owns it. The statistics source is
// called on that thread when a file is closed.
class savefile_set {
public:
    using statistics_source = std::function<std::vector<interface_statistics>()>;

    // Opens the first file. Throws xcap::failure (kind output) naming the file.
    savefile_set(savefile_config cfg, section_description section, std::vector<interface_description> ifaces,
                 statistics_source stats = {});
    ~savefile_set();
    savefile_set(const savefile_set&) = delete;
    savefile_set& operator=(const savefile_set&) = delete;

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
        const uint64_t record = _cfg.format == file_format::pcap ? 16 + len : 96 + len;
        if ((_cfg.rotate_bytes && _packets_in_file > 0 &&
             _out->bytes_total() + record + _trailer_bytes > _cfg.rotate_bytes) ||
            (_cfg.rotate_seconds && ts_ns >= _next_rotation_ns)) {
            if (!rotate(ts_ns)) {
                return result::files_done;
            }
        }
        ++_packets_in_file;
        bool cut = _cfg.format == file_format::pcap ? _pcap->write(ts_ns, data, len)
                                                    : _pcapng->write(ts_ns, data, len, meta);
        return cut ? result::cut : result::written;
    }

    // Where the Interface Statistics Blocks get their counts (pcapng only).
    void set_statistics_source(statistics_source stats) {
        _stats = std::move(stats);
        if (_cfg.format == file_format::pcapng && _stats) {
            _trailer_bytes = 76 * _ifaces.size();
        }
    }

    bool flush() { return _out ? _out->flush() : !failed(); }
    // Finishes the last file (statistics blocks, flush, close, -z hook) and
    // waits for the -z commands. Idempotent. The destructor closes too, but
    // without statistics blocks (the source may be gone by then): call
    // close() to end a file completely.
    void close();

    bool failed() const { return error() != 0; }
    // errno of the first failure of any file so far, or 0.
    int error() const { return _failed_errno ? _failed_errno : _out ? _out->error() : 0; }
    bool is_stdout() const { return _cfg.path == "-"; }
    const std::string& current_name() const { return _name; }
    uint64_t files_opened() const { return _files_opened; }

private:
    void open(int64_t when_s);
    void finish_file();
    bool rotate(uint64_t ts_ns);

    savefile_config _cfg;
    section_description _section;
    std::vector<interface_description> _ifaces;
    statistics_source _stats;
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
    int _failed_errno = 0;
    bool _closed = false;
    bool _done = false;             // -W with -G: the last file is finished
    std::vector<pid_t> _hooks;
};

}  // namespace xcap
