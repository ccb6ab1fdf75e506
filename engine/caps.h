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

// The capabilities a capture needs: CAP_NET_ADMIN (attach XDP), CAP_BPF (load
// the program; CAP_SYS_ADMIN also grants it), CAP_NET_RAW (AF_XDP sockets),
// CAP_IPC_LOCK (pin the UMEM beyond RLIMIT_MEMLOCK).
const std::vector<capability_need>& capture_capabilities();

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
