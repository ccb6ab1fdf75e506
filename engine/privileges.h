#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

namespace xcap {

// The user a capture switches to once it is set up (-Z USER), as tcpdump
// does: once the programs are attached, the sockets bound and the first file
// open, xcap needs no privilege any more (a bpf_link detaches when its fd
// closes, a packet socket's promiscuous membership ends when it closes).
struct run_as_user {
    std::string name;
    uid_t uid = 0;
    gid_t gid = 0;
    bool explicit_choice = false;  // -Z given, not the default
};

// The user xcap switches to by default when it runs as root and that user
// exists (Debian's tcpdump does the same with its `tcpdump` user); without
// it xcap keeps running as root, as it always has.
inline constexpr const char* default_run_as = "xcap";

// Who to become: `requested` is -Z's value (nullopt: not given). -Z root
// (uid 0) keeps root: nullopt. Without -Z: default_run_as when running as
// root and the user exists, else nullopt. Throws failure(usage) for a user
// that does not exist, failure(permission) when switching users needs
// CAP_SETUID and CAP_SETGID that this process lacks (not root), and, for
// -Z, failure(unsupported) where the kernel would refuse the counters'
// bpf() calls once the capabilities are gone (see drop_privileges).
std::optional<run_as_user> choose_run_as(const std::optional<std::string>& requested);

// What drop_privileges() did, for the setup line.
struct privilege_drop {
    bool switched = false;         // now runs as the user
    bool dropped_caps = false;     // every capability is gone
    std::string skipped_because;   // not empty: kept its privileges, and why
};

// Ends the privileged part of a run. With `user`: its groups (initgroups),
// its gid and uid, real, effective and saved. Then, with or without it,
// every capability: effective, permitted, inheritable and ambient; checked
// afterwards (CapEff and CapPrm 0). Before anything is dropped it checks
// that the kernel lets a process without capabilities use the BPF objects
// xcap holds (the counters it reads): Linux before 6.5 with
// kernel.unprivileged_bpf_disabled refuses every bpf() call to such a
// process. There an explicit -Z throws failure(unsupported) and the default
// keeps its privileges, saying why in `skipped_because`.
//
// Call on the main thread before any other thread starts: capabilities are
// per thread, and threads started later inherit the dropped set. Throws
// failure(permission) when a step is refused.
privilege_drop drop_privileges(const std::optional<run_as_user>& user);

// The calling thread's permitted capability set (CapPrm).
uint64_t permitted_capabilities();

}  // namespace xcap
