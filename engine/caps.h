#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace xcap {

// Capability bit numbers (linux/capability.h) xcap needs, with why.
struct capability_need {
    int bit;
    const char* name;
    const char* why;
};

// The capabilities a redirect capture needs, each found necessary on Linux
// 6.18 by taking it away: CAP_NET_ADMIN (load and attach an XDP program),
// CAP_BPF (load programs, create maps; CAP_SYS_ADMIN also grants it),
// CAP_PERFMON (the verifier refuses the capture program's pointer
// arithmetic without it; CAP_SYS_ADMIN also grants it), CAP_NET_RAW (AF_XDP
// sockets, and the packet socket that holds promiscuous mode), CAP_IPC_LOCK
// (the UMEM is charged to RLIMIT_MEMLOCK without it).
const std::vector<capability_need>& capture_capabilities();

// What --tap needs: CAP_NET_ADMIN and CAP_BPF, and CAP_NET_RAW for
// promiscuous mode only (no sockets, no UMEM; its program passes the
// verifier without CAP_PERFMON). Entries of capture_capabilities().
std::vector<capability_need> tap_capabilities(bool promiscuous);

// The entry of capture_capabilities() for capability `bit`.
const capability_need& capability(int bit);

// The needs in `needs` that the effective set `effective` (a bit mask, as in
// /proc/self/status CapEff) lacks. Pure, for tests.
std::vector<capability_need> missing_capabilities(uint64_t effective,
                                                  const std::vector<capability_need>& needs);

// The calling thread's effective capability set.
uint64_t effective_capabilities();

// Throws failure(permission) naming every missing capability.
void require_capabilities(const std::vector<capability_need>& needs);

}  // namespace xcap
