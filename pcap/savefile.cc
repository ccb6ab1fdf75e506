#include "pcap/savefile.h"

#include <spawn.h>
#include <sys/wait.h>
#include <time.h>

#include <cerrno>

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
        _trailer_bytes = 76 * _ifaces.size();  // one Interface Statistics Block each
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
    close();
}

void savefile_set::open(int64_t when_s) {
    _name = _cfg.path == "-" ? "-" : rotation_name(_cfg, _index_in_period, when_s);
    _out = std::make_unique<output>(_name, _cfg.buffer_size);  // throws, naming the file
    _pcap.reset();
    _pcapng.reset();
    if (_cfg.format == file_format::pcap) {
        _pcap = std::make_unique<pcap_writer>(*_out, _ifaces.empty() ? max_snaplen : _ifaces[0].snaplen,
                                              _cfg.nanosecond, _ifaces.empty() ? linktype_ethernet : _ifaces[0].linktype);
    } else {
        _pcapng = std::make_unique<pcapng_writer>(*_out, _section, _ifaces, _cfg.nanosecond);
    }
    ++_files_opened;
    _packets_in_file = 0;
}

void savefile_set::finish_file() {
    if (_pcapng && _stats) {
        auto st = _stats();
        for (size_t i = 0; i < st.size() && i < _ifaces.size(); ++i) {
            st[i].start_ns = st[i].start_ns ? st[i].start_ns : _start_ns;
            st[i].end_ns = st[i].end_ns ? st[i].end_ns : wall_ns();
            _pcapng->write_statistics(uint32_t(i), st[i]);
        }
    }
    bool ok = _out->flush();
    if (!ok && !_failed_errno) {
        _failed_errno = _out->error();
    }
    std::string finished = _name;
    bool is_stdout = _out->is_stdout();
    _pcap.reset();
    _pcapng.reset();
    _out.reset();  // closes the file
    if (ok && !is_stdout && !_cfg.post_rotate.empty()) {
        // sh -c '<cmd> "$1"' sh <file>: the command may carry its own arguments.
        std::string script = _cfg.post_rotate + " \"$1\"";
        const char* argv[] = {"sh", "-c", script.c_str(), "sh", finished.c_str(), nullptr};
        pid_t pid;
        if (posix_spawnp(&pid, "sh", nullptr, nullptr, const_cast<char* const*>(argv), environ) == 0) {
            _hooks.push_back(pid);
        }
    }
    // Reap hooks that have finished, without waiting.
    for (size_t i = 0; i < _hooks.size();) {
        if (waitpid(_hooks[i], nullptr, WNOHANG) == _hooks[i]) {
            _hooks.erase(_hooks.begin() + long(i));
        } else {
            ++i;
        }
    }
}

bool savefile_set::rotate(uint64_t ts_ns) {
    const bool by_time = _cfg.rotate_seconds && ts_ns >= _next_rotation_ns;
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
    finish_file();
    try {
        open(int64_t(ts_ns / 1'000'000'000));
    } catch (const failure& e) {
        // Keep a failed output in place so writes are counted, not lost silently.
        _failed_errno = e.code();
        _out = std::make_unique<output>(-1, _name, 64);
        _pcap = std::make_unique<pcap_writer>(*_out, max_snaplen, _cfg.nanosecond);
    }
    return true;
}

void savefile_set::close() {
    if (_closed) {
        return;
    }
    _closed = true;
    finish_file();
    for (pid_t pid : _hooks) {
        waitpid(pid, nullptr, 0);
    }
    _hooks.clear();
}

}  // namespace xcap
