// Checks the two BPF program types that separate the project's two test
// kernels, and says for each whether this kernel runs it, refuses it, or the
// check itself failed:
//   - fentry/fexit on an XDP program (xcap's trace mode, xdpdump), loaded
//     through a libbpf skeleton with the XDP program as attach target;
//   - freplace, as libxdp's multi-program dispatcher uses it: two programs
//     attached to one interface, run through the dispatcher.
// Every program is run with BPF_PROG_RUN, so "works" means the counters moved,
// not only that the kernel accepted the load. No packet leaves the process:
// the dispatcher goes on `lo` of a network namespace made for it, with its
// pins in a bpffs of a mount namespace made for it.
//
// Usage: xcap_vm_bpf_check [--expect works|refused|any]
// Exit: 0 when every check matched the expectation ("any": works or was
// refused with EPERM), 1 otherwise, 77 when not root (nothing could be tried).

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>

#include <linux/magic.h>
#include <net/if.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include "xdp_target.skel.h"
#include "xdp_trace.skel.h"

namespace {

constexpr int runs = 3;

enum class outcome { works, refused, failed };

struct result {
    outcome what = outcome::failed;
    std::string detail;
};

// libbpf's and libxdp's messages (verifier logs among them), kept to be shown
// only when a check fails for a reason other than a refusal.
std::string library_log;

int keep_libbpf_log(enum libbpf_print_level level, const char* fmt, va_list args) {
    if (level == LIBBPF_DEBUG) {
        return 0;
    }
    char line[1024];
    int n = std::vsnprintf(line, sizeof(line), fmt, args);
    library_log += line;
    return n;
}

int keep_libxdp_log(enum libxdp_print_level level, const char* fmt, va_list args) {
    if (level == LIBXDP_DEBUG) {
        return 0;
    }
    char line[1024];
    int n = std::vsnprintf(line, sizeof(line), fmt, args);
    library_log += line;
    return n;
}

std::string errno_text(int err) {
    err = err < 0 ? -err : err;
    return std::string(strerrordesc_np(err) ? strerrordesc_np(err) : "unknown error") + " (" +
           (strerrorname_np(err) ? strerrorname_np(err) : std::to_string(err).c_str()) + ")";
}

// A refusal is the kernel's EPERM on load or attach; anything else is a
// failure of the check.
result refused_or_failed(const std::string& what, int err) {
    err = err < 0 ? -err : err;
    return {err == EPERM ? outcome::refused : outcome::failed, what + ": " + errno_text(err)};
}

// Runs the XDP program `prog_fd` `runs` times on a minimal Ethernet frame.
result run_xdp(int prog_fd) {
    unsigned char frame[64] = {};
    frame[12] = 0x08;  // IPv4 ethertype: a frame like any other
    LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame, .data_size_in = sizeof(frame), .repeat = runs);
    if (int err = bpf_prog_test_run_opts(prog_fd, &opts); err != 0) {
        return {outcome::failed, "BPF_PROG_RUN: " + errno_text(errno)};
    }
    if (opts.retval != XDP_PASS) {
        return {outcome::failed, "BPF_PROG_RUN returned action " + std::to_string(opts.retval) + ", not XDP_PASS"};
    }
    return {outcome::works, ""};
}

uint64_t runs_of(const bpf_object* obj) {
    const bpf_map* map = bpf_object__find_map_by_name(obj, "runs");
    uint32_t zero = 0;
    uint64_t n = 0;
    if (map == nullptr || bpf_map_lookup_elem(bpf_map__fd(map), &zero, &n) != 0) {
        return ~0ull;
    }
    return n;
}

result check_fentry_fexit() {
    std::unique_ptr<xdp_target_bpf, decltype(&xdp_target_bpf__destroy)> target(xdp_target_bpf__open_and_load(),
                                                                               &xdp_target_bpf__destroy);
    if (!target) {
        return refused_or_failed("loading the XDP program", errno);
    }
    int xdp_fd = bpf_program__fd(target->progs.xdp_target);

    std::unique_ptr<xdp_trace_bpf, decltype(&xdp_trace_bpf__destroy)> trace(xdp_trace_bpf__open(),
                                                                             &xdp_trace_bpf__destroy);
    if (!trace) {
        return refused_or_failed("opening the fentry/fexit object", errno);
    }
    for (bpf_program* p : {trace->progs.trace_entry, trace->progs.trace_exit}) {
        if (int err = bpf_program__set_attach_target(p, xdp_fd, "xdp_target"); err != 0) {
            return refused_or_failed("setting the attach target", err);
        }
    }
    if (int err = xdp_trace_bpf__load(trace.get()); err != 0) {
        return refused_or_failed("loading fentry/fexit on the XDP program", err);
    }
    if (int err = xdp_trace_bpf__attach(trace.get()); err != 0) {
        return refused_or_failed("attaching fentry/fexit", err);
    }
    if (auto r = run_xdp(xdp_fd); r.what != outcome::works) {
        return r;
    }
    const auto* bss = trace->bss;
    uint64_t ran = runs_of(target->obj);
    if (ran != runs || bss->entries != runs || bss->exits != runs || trace->data->last_action != XDP_PASS) {
        return {outcome::failed, "after " + std::to_string(runs) + " runs: XDP program " + std::to_string(ran) +
                                     ", fentry " + std::to_string(bss->entries) + ", fexit " +
                                     std::to_string(bss->exits) + ", last action " + std::to_string(trace->data->last_action)};
    }
    return {outcome::works, std::to_string(runs) + " runs: fentry " + std::to_string(bss->entries) + ", fexit " +
                                std::to_string(bss->exits) + ", fexit saw XDP_PASS"};
}

struct program_closer {
    void operator()(xdp_program* p) const { xdp_program__close(p); }
};
using program_ptr = std::unique_ptr<xdp_program, program_closer>;

// Detaches the dispatcher (and closes libxdp's view of it) however the check
// ends, so nothing stays on the interface or in bpffs.
struct multiprog_detacher {
    void operator()(xdp_multiprog* mp) const {
        xdp_multiprog__detach(mp);
        xdp_multiprog__close(mp);
    }
};
using multiprog_ptr = std::unique_ptr<xdp_multiprog, multiprog_detacher>;

result check_dispatcher() {
    // Namespaces of our own: the network one's `lo` is nobody else's
    // interface, and the mount one gets a bpffs for libxdp (which needs one
    // for the dispatcher) where the machine has none mounted. Both go away
    // with the process.
    if (unshare(CLONE_NEWNET | CLONE_NEWNS) != 0) {
        return {outcome::failed, "unshare(CLONE_NEWNET | CLONE_NEWNS): " + errno_text(errno)};
    }
    if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
        return {outcome::failed, "making the mounts private: " + errno_text(errno)};
    }
    struct statfs fs {};
    if ((statfs("/sys/fs/bpf", &fs) != 0 || fs.f_type != BPF_FS_MAGIC) &&
        mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=700") != 0) {
        return {outcome::failed, "mounting bpffs on /sys/fs/bpf: " + errno_text(errno)};
    }
    int ifindex = int(if_nametoindex("lo"));
    if (ifindex == 0) {
        return {outcome::failed, "no lo in the new namespace"};
    }
    program_ptr progs[2];
    for (auto& p : progs) {
        p.reset(xdp_program__open_file(XDP_TARGET_OBJ, "xdp", nullptr));
        if (int err = int(libxdp_get_error(p.get())); err != 0) {
            p.release();
            return refused_or_failed("opening " XDP_TARGET_OBJ, err);
        }
    }
    xdp_program* raw[2] = {progs[0].get(), progs[1].get()};
    if (int err = xdp_program__attach_multi(raw, 2, ifindex, XDP_MODE_SKB, 0); err != 0) {
        // libxdp first loads a freplace program of its own to see whether the
        // kernel can run the dispatcher; when that load is refused it says
        // so in its log and returns EOPNOTSUPP, not the kernel's EPERM.
        if (err == -EOPNOTSUPP && library_log.find("Operation not permitted") != std::string::npos) {
            return {outcome::refused, "libxdp's compatibility check (loading a freplace program) got EPERM"};
        }
        return refused_or_failed("attaching two programs through libxdp's dispatcher", err);
    }
    multiprog_ptr mp(xdp_multiprog__get_from_ifindex(ifindex));
    if (int err = int(libxdp_get_error(mp.get())); err != 0 || !mp) {
        mp.release();
        return {outcome::failed, "reading back the dispatcher: " + errno_text(err ? err : ENOENT)};
    }
    if (xdp_multiprog__is_legacy(mp.get())) {
        return {outcome::refused, "libxdp fell back to a single program (no freplace)"};
    }
    if (auto r = run_xdp(xdp_program__fd(xdp_multiprog__main_prog(mp.get()))); r.what != outcome::works) {
        return r;
    }
    uint64_t first = runs_of(xdp_program__bpf_obj(progs[0].get()));
    uint64_t second = runs_of(xdp_program__bpf_obj(progs[1].get()));
    if (first != runs || second != runs) {
        return {outcome::failed, "after " + std::to_string(runs) + " runs of the dispatcher the programs ran " +
                                     std::to_string(first) + " and " + std::to_string(second) + " times"};
    }
    return {outcome::works, "2 programs on one interface, each ran " + std::to_string(runs) +
                                " times through the dispatcher"};
}

const char* name_of(outcome o) {
    switch (o) {
    case outcome::works:
        return "works";
    case outcome::refused:
        return "refused";
    case outcome::failed:
        break;
    }
    return "FAILED";
}

}  // namespace

int main(int argc, char** argv) {
    std::string expect = "any";
    if (argc == 3 && std::strcmp(argv[1], "--expect") == 0) {
        expect = argv[2];
    }
    if ((argc != 1 && argc != 3) || (expect != "works" && expect != "refused" && expect != "any")) {
        std::fprintf(stderr, "usage: %s [--expect works|refused|any]\n", argv[0]);
        return 2;
    }
    if (geteuid() != 0) {
        std::printf("skipped: loading BPF programs needs root\n");
        return 77;
    }
    libbpf_set_print(keep_libbpf_log);
    libxdp_set_print(keep_libxdp_log);

    utsname u{};
    uname(&u);
    std::printf("kernel %s\n", u.release);

    bool ok = true;
    auto report = [&](const char* what, const result& r) {
        std::printf("%s: %s%s%s\n", what, name_of(r.what), r.detail.empty() ? "" : " - ", r.detail.c_str());
        bool matched = r.what != outcome::failed && (expect == "any" || expect == name_of(r.what));
        if (r.what == outcome::failed && !library_log.empty()) {
            std::printf("library messages:\n%s", library_log.c_str());
        }
        library_log.clear();
        ok = ok && matched;
    };
    report("fentry/fexit on an XDP program", check_fentry_fexit());
    report("freplace (libxdp's dispatcher)", check_dispatcher());
    if (!ok) {
        std::printf("expected: %s\n", expect.c_str());
    }
    return ok ? 0 : 1;
}
