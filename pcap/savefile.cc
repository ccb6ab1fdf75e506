#include "pcap/savefile.h"

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/error.h"

extern char** environ;

namespace xcap {
namespace {

uint64_t wall_ns() {
    timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return uint64_t(ts.tv_sec) * 1'000'000'000 + uint64_t(ts.tv_nsec);
}

bool ends_with(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

file_format format_for_path(const std::string& path) {
    return ends_with(path, ".pcapng") ? file_format::pcapng : file_format::pcap;
}

file_format output_format(const std::optional<file_format>& asked, const std::string& path, file_format otherwise) {
    if (asked) {
        return *asked;
    }
    if (ends_with(path, ".pcapng")) {
        return file_format::pcapng;
    }
    if (ends_with(path, ".pcap")) {
        return file_format::pcap;
    }
    return otherwise;
}

std::string rotation_name(const savefile_config& cfg, uint64_t index, int64_t when) {
    std::string base = cfg.path;
    if (cfg.rotate_seconds) {
        time_t t = time_t(when);
        tm local;
        localtime_r(&t, &local);
        char buf[4096];
        size_t n = strftime(buf, sizeof(buf), cfg.path.c_str(), &local);
        if (n > 0) {
            base.assign(buf, n);
        }
    }
    if (!cfg.rotate_bytes) {
        return base;
    }
    if (cfg.max_files && !cfg.rotate_seconds) {
        // A ring: x0 .. x(W-1), padded so the names sort.
        std::string digits = std::to_string(cfg.max_files - 1);
        std::string n = std::to_string(index % cfg.max_files);
        return base + std::string(digits.size() - n.size(), '0') + n;
    }
    return index == 0 ? base : base + std::to_string(index);
}

savefile_set::savefile_set(savefile_config cfg, section_description section,
                           std::vector<interface_description> ifaces, statistics_source stats)
    : _cfg(std::move(cfg)), _section(std::move(section)), _ifaces(std::move(ifaces)), _stats(std::move(stats)) {
    _start_ns = wall_ns();
    if (_cfg.format == file_format::pcapng && _stats) {
        _trailer_bytes = pcapng::isb_size * _ifaces.size();  // one Interface Statistics Block each
    }
    if (_cfg.rotate_seconds) {
        _next_rotation_ns = _start_ns + uint64_t(_cfg.rotate_seconds) * 1'000'000'000;
    }
    open(int64_t(_start_ns / 1'000'000'000));
}

savefile_set::~savefile_set() {
    // The statistics source reads objects its owner declared later, which are
    // gone by now on an error path; the normal path has called close() already.
    _stats = {};
    if (_cfg.wait_for_begin && !_begun && !_closed && _out) {
        // Setup was refused after the output was opened: leave no trace.
        _out->abandon();
        _out.reset();
        _closed = true;
    }
    close();
}

void savefile_set::open(int64_t when_s) {
    _name = _cfg.path == "-" ? "-" : rotation_name(_cfg, _index_in_period, when_s);
    wait_for_file(_name);
    _out = std::make_unique<output>(_name, _cfg.buffer_size);  // throws, naming the file
    _placeholder = false;
    use_disk();
    start_writer();
    ++_files_opened;
    if (_first_name.empty()) {
        _first_name = _name;
    }
    _is_stream = _out->is_stream();
    _flush_each_batch = _cfg.packet_buffered || _is_stream;
}

// The pool and its thread are made for the first file, and kept only if
// it can use them; a later file that cannot (another file system) is
// written as before.
void savefile_set::use_disk() {
    if (_cfg.disk_buffer == 0 || _out->is_stream() || (_files_opened > 0 && !_disk)) {
        return;
    }
    if (!_disk) {
        _disk = std::make_unique<disk_writer>(_cfg.disk_buffer, _cfg.disk_block);
        _disk->before_write = _cfg.disk_before_write;
    }
    // After a rotation the files before may hold every block: the headers
    // need one (they are not dropped as records are), so wait for a write.
    while (!_disk->has_free() && _disk->in_flight() > 0) {
        _disk->wait_any();
        output::reclaim(*_disk);
    }
    std::string why;
    if (_out->use_disk(*_disk, why)) {
        _write_path = "direct I/O in " + std::to_string(_disk->pool().block_size() >> 20) + " MiB blocks, " +
                      std::to_string(_disk->pool().count()) + " of them (--buffer-len" +
                      (_disk->pool().huge_pages() ? ", huge pages)" : ")");
        if (_files_opened == 0) {
            _stall_caveat = _out->stall_caveat();  // once: it reads /proc and /sys, and a rotation must not wait
        }
        if (!_stall_caveat.empty()) {
            _write_path += "; " + _stall_caveat;
        }
    } else {
        _write_path = "buffered writes: " + why;
        if (_files_opened == 0) {
            _disk.reset();
        }
    }
}

void savefile_set::start_writer() {
    _pcap.reset();
    _pcapng.reset();
    _packets_in_file = 0;
    if (_cfg.format == file_format::pcap) {
        _pcap = std::make_unique<pcap_writer>(*_out, _ifaces.empty() ? max_snaplen : _ifaces[0].snaplen,
                                              _cfg.nanosecond, _ifaces.empty() ? linktype_ethernet : _ifaces[0].linktype);
    } else {
        _pcapng = std::make_unique<pcapng_writer>(*_out, _section, _ifaces, _cfg.nanosecond);
    }
}

// After a failure the set keeps an output that writes nothing, with a writer
// of the right format, so that what the capture still hands over is counted
// lost by the same walk as the rest, and the hot path needs no check.
void savefile_set::keep_failed_output(int err) {
    _out = std::make_unique<output>(-1, _name, 4096);
    _placeholder = true;
    start_writer();
    _out->set_failed(err);
}

void savefile_set::finish_file(bool wait) {
    // The statistics come after the file's last records are out: drops
    // counted in that last flush (a full pool, a failed write) are in them.
    if (_pcapng && _stats && _out->settle()) {
        auto st = _stats();
        for (size_t i = 0; i < st.size() && i < _ifaces.size(); ++i) {
            st[i].start_ns = st[i].start_ns ? st[i].start_ns : _start_ns;
            st[i].end_ns = st[i].end_ns ? st[i].end_ns : wall_ns();
            _pcapng->write_statistics(uint32_t(i), st[i]);
        }
    }
    _accepted_closed += _packets_in_file;
    _packets_in_file = 0;
    _pcap.reset();
    _pcapng.reset();
    // A file that failed was cut back to whole records, so it is as finished
    // as any other and gets its -z command too.
    finishing_file f{std::move(_out), _name, !is_stdout() && !_placeholder};
    if (!wait && f.out->direct() && !f.out->failed()) {
        f.out->hand_off();
        _finishing.push_back(std::move(f));
        tend();
        return;
    }
    f.out->finish();
    // Every file handed off before this one is complete first, in order.
    if (_disk) {
        _disk->drain();
    }
    tend();
    complete(std::move(f));
}

void savefile_set::complete(finishing_file f) {
    bool keep = f.is_file;
    if (f.out->failed()) {
        bool gone = false;
        if (!_failed_errno) {
            _failed_errno = f.out->error();
            _failed_file = f.out->name();
            if (f.is_file && f.out->holds_nothing()) {
                // The first write failed (the disk was full before the
                // headers were in): the file was cut back to nothing, which
                // no reader takes for a capture file. Removed when xcap
                // made it, else left empty; no -z runs on it either way.
                keep = false;
                gone = _failed_removed = f.out->remove_if_empty();
                _failed_empty = !gone;
            }
        } else if (f.out->direct() && f.out->error() == ECANCELED && f.out->bytes_written() == 0) {
            // Opened while a file before it was still being written, which
            // then failed: the writer wrote none of this one, and without
            // the wait it would not have been opened. Its records are
            // counted lost. A file of a -W ring it reopened still holds
            // what it held (the truncation waits for the first write).
            keep = false;
            f.out->remove_if_empty();
            gone = true;
        }
        if (gone) {
            --_files_opened;
            if (_name == f.name) {
                _name = _last_kept;
            }
        }
    }
    if (keep) {
        _last_kept = f.name;
    }
    _lost_closed += f.out->packets_lost();
    _wire_lost_closed += f.out->wire_bytes_lost();
    f.out.reset();  // closes the file
    if (keep && !_cfg.post_rotate.empty()) {
        // sh -c '<cmd> "$1"' sh <file>: the command may carry its own arguments.
        std::string script = _cfg.post_rotate + " \"$1\"";
        const char* argv[] = {"sh", "-c", script.c_str(), "sh", f.name.c_str(), nullptr};
        pid_t pid;
        // The command runs as if started from a shell: no signal blocked
        // (xcap blocks its stop signals, and a blocked mask survives exec),
        // SIGPIPE back to default (xcap ignores it), and in a process group
        // of its own, so the Ctrl-C that stops the capture does not cut a
        // compression short; `kill PID` still ends it.
        posix_spawnattr_t attr;
        posix_spawnattr_init(&attr);
        sigset_t none, defaults;
        sigemptyset(&none);
        sigemptyset(&defaults);
        for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGHUP}) {
            sigaddset(&defaults, sig);
        }
        posix_spawnattr_setsigmask(&attr, &none);
        posix_spawnattr_setsigdefault(&attr, &defaults);
        posix_spawnattr_setpgroup(&attr, 0);
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
        int err = posix_spawnp(&pid, "sh", nullptr, &attr, const_cast<char* const*>(argv), environ);
        posix_spawnattr_destroy(&attr);
        if (err == 0) {
            _hooks.push_back({f.name, pid});
        } else {
            report({f.name, 0, err});
        }
    }
    reap_finished_hooks();
}

bool savefile_set::tend() {
    if (_finishing.empty()) {
        return false;
    }
    output::reclaim(*_disk);
    size_t k = 0;
    while (k < _finishing.size() && _finishing[k].out->done()) {
        ++k;
    }
    std::vector<finishing_file> ready(std::make_move_iterator(_finishing.begin()),
                                      std::make_move_iterator(_finishing.begin() + long(k)));
    _finishing.erase(_finishing.begin(), _finishing.begin() + long(k));
    for (auto& f : ready) {
        complete(std::move(f));
    }
    return !_finishing.empty();
}

// A -W ring (or a -G name without a time in it) comes back to a name: the
// file must be complete before it is opened again.
void savefile_set::wait_for_file(const std::string& name) {
    for (const auto& f : _finishing) {
        if (f.name == name) {
            _disk->drain();
            tend();
            return;
        }
    }
}

int savefile_set::error() const {
    if (_failed_errno) {
        return _failed_errno;
    }
    for (const auto& f : _finishing) {
        if (f.out->failed()) {
            return f.out->error();
        }
    }
    return _out ? _out->error() : 0;
}

uint64_t savefile_set::packets_lost() const {
    uint64_t n = _lost_closed + (_out ? _out->packets_lost() : 0);
    for (const auto& f : _finishing) {
        n += f.out->packets_lost();
    }
    return n;
}

uint64_t savefile_set::wire_bytes_lost() const {
    uint64_t n = _wire_lost_closed + (_out ? _out->wire_bytes_lost() : 0);
    for (const auto& f : _finishing) {
        n += f.out->wire_bytes_lost();
    }
    return n;
}

bool savefile_set::rotate(uint64_t ts_ns) {
    if (failed()) {
        // No file after a failure: the packet goes to the failed output and
        // is counted lost.
        return true;
    }
    const bool by_time = _cfg.rotate_seconds && ts_ns >= _next_rotation_ns;
    if (by_time && _packets_in_file == 0 && !_out->failed()) {
        // The first period passed without a packet: its file is not kept
        // (periods without packets make no file), and does not count
        // towards -W.
        _out->abandon();
        _out.reset();
        --_files_opened;
        _first_name.clear();
    }
    if (by_time) {
        // Next boundary after this packet; periods with no packets make no files.
        const uint64_t period = uint64_t(_cfg.rotate_seconds) * 1'000'000'000;
        _next_rotation_ns += ((ts_ns - _next_rotation_ns) / period + 1) * period;
        if (_cfg.max_files && _files_opened >= _cfg.max_files) {
            _done = true;  // -W with -G: that was the last file
            return false;
        }
        _index_in_period = 0;
    } else {
        ++_index_in_period;
    }
    if (_out) {
        finish_file(false);
    }
    if (_failed_errno) {
        keep_failed_output(_failed_errno);  // the last flush of that file failed
        return true;
    }
    try {
        open(int64_t(ts_ns / 1'000'000'000));
    } catch (const failure& e) {
        _failed_errno = e.code();
        _failed_file = _name;
        keep_failed_output(_failed_errno);
    }
    return true;
}

void savefile_set::report(post_rotate_failure f) {
    _hook_failures.push_back(std::move(f));
    if (_cfg.post_rotate_report) {
        _cfg.post_rotate_report(_hook_failures.back());
    }
}

void savefile_set::reaped(const post_rotate_pending& h, int status) {
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        report({h.file, status, 0});
    }
}

void savefile_set::reap_finished_hooks() {
    for (size_t i = 0; i < _hooks.size();) {
        int status = 0;
        pid_t r = waitpid(_hooks[i].pid, &status, WNOHANG);
        if (r == 0 || (r < 0 && errno == EINTR)) {
            ++i;
            continue;
        }
        if (r == _hooks[i].pid) {
            reaped(_hooks[i], status);
        }
        // r < 0 otherwise: not our child any more (SIGCHLD ignored?), nothing to report.
        _hooks.erase(_hooks.begin() + long(i));
    }
}

bool savefile_set::close(const std::atomic<bool>* abandon) {
    if (!abandon) {
        return close_polling(nullptr);
    }
    const std::function<bool()> poll = [abandon] { return abandon->load(std::memory_order_relaxed); };
    return close_polling(&poll);
}

bool savefile_set::close(const std::function<bool()>& abandon) { return close_polling(abandon ? &abandon : nullptr); }

bool savefile_set::close_polling(const std::function<bool()>* abandon) {
    if (!_closed) {
        _closed = true;
        if (_out) {
            finish_file(true);  // drains, and completes the files handed off before it
        } else if (_disk) {
            _disk->drain();
            tend();
        }
    }
    if (!abandon) {
        for (const auto& h : _hooks) {
            int status = 0;
            pid_t r;
            while ((r = waitpid(h.pid, &status, 0)) < 0 && errno == EINTR) {
            }
            if (r == h.pid) {
                reaped(h, status);
            }
        }
        _hooks.clear();
        return _hooks_abandoned.empty();
    }
    // Polling rather than blocking, so that the caller's condition (a second
    // Ctrl-C) is seen within 10 ms while a command hangs.
    for (;;) {
        reap_finished_hooks();
        if (_hooks.empty()) {
            return _hooks_abandoned.empty();
        }
        if ((*abandon)()) {
            _hooks_abandoned.insert(_hooks_abandoned.end(), _hooks.begin(), _hooks.end());
            _hooks.clear();
            return false;
        }
        timespec tick{0, 10'000'000};
        nanosleep(&tick, nullptr);
    }
}

std::string savefile_set::files_description() const {
    if (_cfg.path == "-") {
        return "standard output";
    }
    if (_files_opened == 0 && _failed_removed) {
        return "no file";
    }
    if (_files_opened <= 1) {
        return _first_name.empty() ? _name : _first_name;
    }
    // A -W ring overwrites its oldest: name the files it holds.
    const bool ring = _cfg.max_files && _cfg.rotate_bytes && !_cfg.rotate_seconds;
    const uint64_t kept = ring ? std::min<uint64_t>(_files_opened, _cfg.max_files) : _files_opened;
    const std::string first = ring ? rotation_name(_cfg, 0, 0) : _first_name;
    const std::string last = ring ? rotation_name(_cfg, kept - 1, 0) : _name;
    return first + " .. " + last + " (" + std::to_string(kept) + " files)";
}

output_failure savefile_set::output_error() const {
    if (_failed_errno) {
        return {_failed_errno, _failed_file, _failed_removed, _failed_empty};
    }
    for (const auto& f : _finishing) {
        if (f.out->failed()) {
            return {f.out->error(), f.out->name()};
        }
    }
    if (_out && _out->failed()) {
        return {_out->error(), _out->name()};
    }
    return {};
}

std::string post_rotate_failure::message() const {
    const std::string head = "-z command for " + file;
    if (spawn_errno) {
        return head + " could not be started: " + std::strerror(spawn_errno);
    }
    if (WIFEXITED(wait_status)) {
        return head + " exited with status " + std::to_string(WEXITSTATUS(wait_status));
    }
    if (WIFSIGNALED(wait_status)) {
        return head + " was killed by signal " + std::to_string(WTERMSIG(wait_status)) + " (" +
               strsignal(WTERMSIG(wait_status)) + ")";
    }
    return head + " ended with wait status " + std::to_string(wait_status);
}

}  // namespace xcap
