#pragma once

#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace xcap {

// CPUs this process may run on (its affinity mask), in ascending order.
std::vector<int> allowed_cpus();

// Pins the calling thread to `cpu`. Returns false (and leaves the thread
// unpinned) when the kernel refuses, e.g. the CPU is outside the cgroup.
bool pin_current_thread(int cpu);

// Names the calling thread (visible in top -H and /proc); truncated to 15 chars.
void name_current_thread(const std::string& name);

// Starts a thread that first names itself and pins itself to `cpu` (left
// unpinned when cpu < 0 or the kernel refuses), then runs `fn`.
template <class F>
std::thread start_thread(std::string name, int cpu, F&& fn) {
    return std::thread([name = std::move(name), cpu, fn = std::forward<F>(fn)]() mutable {
        name_current_thread(name);
        if (cpu >= 0) {
            pin_current_thread(cpu);
        }
        fn();
    });
}

// A pause in a spin loop: lets the sibling hyperthread run and saves power.
inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

}  // namespace xcap
