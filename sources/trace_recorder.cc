#include "sources/trace_recorder.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>

#include "common/error.h"
#include "engine/xdp_attach.h"
#include "xcap_hook.skel.h"
#include "xcap_trace.skel.h"

namespace xcap {
namespace {

constexpr const char* action_names[XCAP_HOOK_SLOTS] = {"XDP_ABORTED", "XDP_DROP", "XDP_PASS", "XDP_TX",
                                                      "XDP_REDIRECT"};
constexpr const char hook_prefix[] = "xcap_hook_";

// A per-CPU array of one: the value of every possible CPU.
template <typename T>
std::vector<T> per_cpu(int map_fd) {
    static_assert(sizeof(T) % 8 == 0, "per-CPU values are laid out in 8-byte steps");
    int n = libbpf_num_possible_cpus();
    std::vector<T> v(size_t(n > 0 ? n : 1));
    uint32_t zero = 0;
    if (map_fd < 0 || bpf_map_lookup_elem(map_fd, &zero, v.data()) != 0) {
        std::fill(v.begin(), v.end(), T{});
    }
    return v;
}

void add_counts(program_counts& c, int counters_fd, int actions_fd) {
    for (const auto& v : per_cpu<xcap_ring_counters>(counters_fd)) {
        c.seen += v.seen;
        c.recorded += v.recorded;
        c.ring_full += v.ring_full;
        c.filtered += v.filtered;
        c.ring_full_per_cpu.push_back(v.ring_full);
    }
    for (const auto& v : per_cpu<xcap_trace_actions>(actions_fd)) {
        for (int i = 0; i <= XCAP_XDP_ACTIONS; ++i) {
            c.actions[i] += v.count[i];
        }
    }
}

void check_ring_size(uint64_t bytes) {
    const uint64_t page = uint64_t(sysconf(_SC_PAGESIZE));
    if (bytes < page || (bytes & (bytes - 1)) != 0 || bytes > (1ull << 31)) {
        throw failure(failure_kind::usage,
                      "--ring-size " + std::to_string(bytes) + ": must be a power of two from " +
                          std::to_string(page) + " bytes (a page) to 2 GiB",
                      "e.g. --ring-size 8m");
    }
}

std::string errno_name(int err) {
    err = err < 0 ? -err : err;
    return std::strerror(err);
}

// The ids of the other processes with a descriptor of BPF map `map_id`.
std::vector<pid_t> map_holders(uint32_t map_id) {
    return bpf_object_holders("anon_inode:bpf-map", "map_id:\t" + std::to_string(map_id));
}

// The ring buffer map a loaded program writes to, or 0.
uint32_t ring_of_program(int prog_fd) {
    bpf_prog_info info{};
    uint32_t len = sizeof(info);
    if (bpf_obj_get_info_by_fd(prog_fd, &info, &len) != 0 || info.nr_map_ids == 0) {
        return 0;
    }
    std::vector<uint32_t> ids(info.nr_map_ids);
    bpf_prog_info again{};
    again.nr_map_ids = uint32_t(ids.size());
    again.map_ids = reinterpret_cast<uint64_t>(ids.data());
    len = sizeof(again);
    if (bpf_obj_get_info_by_fd(prog_fd, &again, &len) != 0) {
        return 0;
    }
    for (uint32_t id : ids) {
        unique_fd m(bpf_map_get_fd_by_id(id));
        bpf_map_info mi{};
        uint32_t mlen = sizeof(mi);
        if (m && bpf_obj_get_info_by_fd(m.get(), &mi, &mlen) == 0 && mi.type == BPF_MAP_TYPE_RINGBUF) {
            return id;
        }
    }
    return 0;
}

}  // namespace

// ---- fentry/fexit ----------------------------------------------------------

void fentry_recorder::skeleton_deleter::operator()(xcap_trace_bpf* s) const { xcap_trace_bpf__destroy(s); }
void hook_recorder::skeleton_deleter::operator()(xcap_hook_bpf* s) const { xcap_hook_bpf__destroy(s); }

// What is loaded so far is unloaded by _traced's owners if a step throws.
fentry_recorder::fentry_recorder(const std::vector<xdp_program_ref>& targets, const recorder_options& opts) {
    check_ring_size(opts.ring_bytes);
    {
        for (const auto& t : targets) {
            if (t.function.empty()) {
                throw failure(failure_kind::unsupported,
                              "cannot trace XDP program " + t.describe() +
                                  ": it has no BTF, which fentry and fexit need to attach to it",
                              "load it from an object built with BTF (clang -g), or trace it through an xdpcap "
                              "hook with --hook PATH");
            }
            traced tr;
            tr.skel.reset(xcap_trace_bpf__open());
            if (!tr.skel) {
                throw failure(failure_kind::runtime, errno, "cannot open xcap's trace programs");
            }
            tr.id = t.id;
            tr.name = t.describe();
            xcap_trace_bpf* s = tr.skel.get();
            _traced.push_back(std::move(tr));
            s->rodata->xcap_snaplen = std::min<uint32_t>(opts.snaplen, XCAP_TRACE_MAX_CAP);
            s->rodata->traced_prog_id = t.id;
            s->rodata->with_entry = opts.entry ? 1 : 0;
            if (opts.filter) {
                s->rodata->xcap_cbpf_len = uint32_t(opts.filter->insns.size());
                s->rodata->xcap_cbpf_steps = opts.filter->steps;
            }
            // One ring for every traced program: the first instance makes it.
            int err = _ring_fd < 0 ? bpf_map__set_max_entries(s->maps.xcap_ring, uint32_t(opts.ring_bytes))
                                   : bpf_map__reuse_fd(s->maps.xcap_ring, _ring_fd);
            bpf_program__set_autoload(s->progs.xcap_entry, opts.entry);
            bpf_program__set_autoload(s->progs.xcap_exit, opts.exit);
            for (bpf_program* p : {s->progs.xcap_entry, s->progs.xcap_exit}) {
                if (!err && bpf_program__autoload(p)) {
                    err = bpf_program__set_attach_target(p, t.fd.get(), t.function.c_str());
                }
            }
            if (err) {
                throw failure(failure_kind::runtime, -err, "cannot prepare the trace programs for " + t.describe());
            }
            err = xcap_trace_bpf__load(s);
            if (!err && opts.filter) {
                // The program runs from the moment of attaching: its filter is there first.
                write_interpreter_program(bpf_map__fd(s->maps.xcap_cbpf_prog), *opts.filter);
            }
            if (!err) {
                err = xcap_trace_bpf__attach(s);
            }
            if (err) {
                const int e = err < 0 ? -err : err;
                std::string what = std::string(opts.entry && opts.exit ? "fentry/fexit" : opts.entry ? "fentry" : "fexit");
                if (e == EPERM || e == EACCES) {
                    throw failure(
                        failure_kind::unsupported,
                        "cannot trace XDP program " + t.describe() + ": this kernel refused to load " + what +
                            " programs on it (" + errno_name(e) + ")",
                        "xcap trace needs a kernel that allows BPF tracing programs (fentry/fexit, with "
                        "CONFIG_DEBUG_INFO_BTF) on XDP programs, CAP_BPF and CAP_PERFMON, and no lockdown or "
                        "security policy refusing them; a program that tail-calls an xdpcap hook can be traced "
                        "with --hook PATH instead");
                }
                throw failure(failure_kind::unsupported, e,
                              "cannot attach " + what + " programs to XDP program " + t.describe(),
                              "run with -v to see libbpf's messages");
            }
            if (_ring_fd < 0) {
                _ring_fd = bpf_map__fd(s->maps.xcap_ring);
            }
        }
    }
}

fentry_recorder::~fentry_recorder() = default;

void fentry_recorder::stop() {
    for (auto& t : _traced) {
        xcap_trace_bpf__detach(t.skel.get());
    }
}

std::vector<program_counts> fentry_recorder::counts() const {
    std::vector<program_counts> out;
    for (const auto& t : _traced) {
        program_counts c;
        c.id = t.id;
        c.name = t.name;
        add_counts(c, bpf_map__fd(t.skel->maps.xcap_ring_ctr), bpf_map__fd(t.skel->maps.xcap_actions));
        out.push_back(std::move(c));
    }
    return out;
}

// ---- xdpcap hook -------------------------------------------------------------

hook_recorder::hook_recorder(const std::string& path, const recorder_options& opts,
                             const std::function<void(const std::string&)>& info)
    : _path(path) {
    check_ring_size(opts.ring_bytes);
    _map.reset(bpf_obj_get(path.c_str()));
    if (!_map) {
        const int e = errno;
        throw failure(failure_kind::usage, e, "--hook " + path + ": cannot open it as a pinned BPF map",
                      "give the bpffs path where the XDP program pinned its xdpcap hook map");
    }
    bpf_map_info mi{};
    uint32_t len = sizeof(mi);
    if (bpf_obj_get_info_by_fd(_map.get(), &mi, &len) != 0) {
        throw failure(failure_kind::runtime, errno, "--hook " + path + ": cannot read the map's description");
    }
    if (mi.type != BPF_MAP_TYPE_PROG_ARRAY || mi.key_size != 4 || mi.value_size != 4 || mi.max_entries == 0) {
        throw failure(failure_kind::usage,
                      "--hook " + path + ": not an xdpcap hook (map type " + std::to_string(mi.type) + ", key " +
                          std::to_string(mi.key_size) + " and value " + std::to_string(mi.value_size) + " bytes)",
                      "a hook is a BPF_MAP_TYPE_PROG_ARRAY with int keys and values, indexed by XDP action "
                      "(cloudflare/xdpcap's hook.h)");
    }
    _slots = std::min<uint32_t>(mi.max_entries, XCAP_HOOK_SLOTS);
    _installed.map = &_map;
    _installed.ids.assign(_slots, 0);

    // What the slots hold now.
    for (uint32_t slot = 0; slot < _slots; ++slot) {
        uint32_t id = 0;
        if (bpf_map_lookup_elem(_map.get(), &slot, &id) != 0) {
            continue;  // empty
        }
        unique_fd p(bpf_prog_get_fd_by_id(id));
        const std::string name = p ? program_name_of(p.get()) : "?";
        const std::string what = "'" + name + "' (id " + std::to_string(id) + ")";
        const std::string where = "--hook " + path + ": slot " + std::to_string(slot) + " (" + action_names[slot] + ")";
        if (name.rfind(hook_prefix, 0) == 0) {
            auto holders = map_holders(ring_of_program(p.get()));
            if (holders.empty()) {
                // Nobody reads its ring: an xcap that was killed along with
                // its guardian. Its program only costs the traced one time.
                info(where + " held " + what + ", left by an xcap trace that is gone; emptying it");
                bpf_map_delete_elem(_map.get(), &slot);
                continue;
            }
            if (!opts.force) {
                throw failure(failure_kind::xdp_busy,
                              where + " holds " + what + " of another xcap trace (pid " +
                                  std::to_string(holders.front()) + ")",
                              "stop that one first, or pass --force to take the slots from it");
            }
        } else if (!opts.force) {
            throw failure(failure_kind::xdp_busy, where + " already holds program " + what,
                          "xcap will not replace it: pass --force to take the slots (it is not put back)");
        }
    }
    // Should either throw, _installed empties the slots and _skel unloads.
    install(opts);
    start_guardian();
}

void hook_recorder::install(const recorder_options& opts) {
    // The hook's programs must be of the kind the map's first user is: an XDP
    // program that may see multi-buffer packets (BPF_F_XDP_HAS_FRAGS) takes
    // only such programs. Try as a plain XDP program, then as a frags one
    // (as xdpcap does).
    for (int attempt = 0; attempt < 2; ++attempt) {
        _skel.reset(xcap_hook_bpf__open());
        if (!_skel) {
            throw failure(failure_kind::runtime, errno, "cannot open xcap's hook programs");
        }
        _skel->rodata->xcap_snaplen = std::min<uint32_t>(opts.snaplen, XCAP_TRACE_MAX_CAP);
        if (opts.filter) {
            _skel->rodata->xcap_cbpf_len = uint32_t(opts.filter->insns.size());
            _skel->rodata->xcap_cbpf_steps = opts.filter->steps;
        }
        bpf_map__set_max_entries(_skel->maps.xcap_ring, uint32_t(opts.ring_bytes));
        bpf_program* progs[XCAP_HOOK_SLOTS] = {_skel->progs.xcap_hook_abort, _skel->progs.xcap_hook_drop,
                                               _skel->progs.xcap_hook_pass, _skel->progs.xcap_hook_tx,
                                               _skel->progs.xcap_hook_redir};
        if (attempt == 1) {
            for (bpf_program* p : progs) {
                bpf_program__set_flags(p, bpf_program__flags(p) | BPF_F_XDP_HAS_FRAGS);
            }
        }
        if (int err = xcap_hook_bpf__load(_skel.get()); err != 0) {
            throw failure(failure_kind::unsupported, -err, "cannot load xcap's hook programs",
                          "run with -v to see libbpf's messages");
        }
        if (opts.filter) {
            // Before any slot holds a program: they run from then on.
            write_interpreter_program(bpf_map__fd(_skel->maps.xcap_cbpf_prog), *opts.filter);
        }
        int err = 0;
        for (uint32_t slot = 0; slot < _slots && !err; ++slot) {
            int fd = bpf_program__fd(progs[slot]);
            if (bpf_map_update_elem(_map.get(), &slot, &fd, BPF_ANY) != 0) {
                err = errno;
            } else {
                _installed.ids[slot] = program_id(fd);
            }
        }
        if (!err) {
            _ring_fd = bpf_map__fd(_skel->maps.xcap_ring);
            return;
        }
        stop();
        _skel.reset();
        if (err != EINVAL || attempt == 1) {
            throw failure(failure_kind::unsupported, err, "--hook " + _path + ": cannot put xcap's programs into it",
                          "the hook's programs must be XDP programs like the one that tail-calls it (the same "
                          "multi-buffer setting)");
        }
    }
}

void hook_recorder::start_guardian() {
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) {
        throw failure(failure_kind::runtime, errno, "cannot create the hook guardian's pipe");
    }
    unique_fd read_end(p[0]);
    unique_fd write_end(p[1]);
    const int map_fd = _map.get();
    const std::vector<uint32_t> ids = _installed.ids;
    const uint32_t slots = _slots;
    pid_t pid = fork();
    if (pid < 0) {
        throw failure(failure_kind::runtime, errno, "cannot start the hook guardian process");
    }
    if (pid == 0) {
        // The guardian: it outlives xcap however xcap ends (kill -9 too) and
        // empties the slots that still hold xcap's programs once the pipe's
        // write end, which only xcap holds, closes. It keeps the pipe (as fd
        // 0) and the hook map (fd 1) and nothing else, so no output or
        // terminal is held open by it. Only system calls from here on.
        for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGQUIT}) {
            signal(sig, SIG_IGN);
        }
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, nullptr);
        prctl(PR_SET_NAME, "xcap-hook-guard");
        close(p[1]);
        if (dup2(p[0], 100) < 0 || dup2(map_fd, 101) < 0 || dup2(100, 0) < 0 || dup2(101, 1) < 0) {
            _exit(1);
        }
        close_range(2, ~0u, 0);
        char c;
        for (;;) {
            ssize_t n = read(0, &c, 1);
            if (n == 0 || (n < 0 && errno != EINTR)) {
                break;
            }
        }
        for (uint32_t slot = 0; slot < slots; ++slot) {
            uint32_t id = 0;
            if (ids[slot] && bpf_map_lookup_elem(1, &slot, &id) == 0 && id == ids[slot]) {
                bpf_map_delete_elem(1, &slot);
            }
        }
        _exit(0);
    }
    _guardian_pipe = std::move(write_end);
    _guardian = pid;
}

void hook_recorder::installed_slots::empty() {
    for (uint32_t slot = 0; slot < ids.size(); ++slot) {
        uint32_t id = 0;
        if (ids[slot] && bpf_map_lookup_elem(map->get(), &slot, &id) == 0 && id == ids[slot]) {
            bpf_map_delete_elem(map->get(), &slot);
        }
        ids[slot] = 0;
    }
}

void hook_recorder::stop() { _installed.empty(); }

// The slots first, then the guardian goes (the pipe closes: it finds them
// empty); the programs are unloaded after, by _skel.
hook_recorder::~hook_recorder() {
    stop();
    _guardian_pipe.reset();
    if (_guardian > 0) {
        int status = 0;
        while (waitpid(_guardian, &status, 0) < 0 && errno == EINTR) {
        }
    }
}

std::vector<program_counts> hook_recorder::counts() const {
    program_counts c;
    c.name = "hook " + _path;
    if (_skel) {
        add_counts(c, bpf_map__fd(_skel->maps.xcap_ring_ctr), bpf_map__fd(_skel->maps.xcap_actions));
    }
    return {c};
}

}  // namespace xcap
