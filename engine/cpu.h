#pragma once

#include <string>
#include <vector>

namespace xcap {

// CPUs this process may run on (its affinity mask), in ascending order.
std::vector<int> allowed_cpus();

// Pins the calling thread to `cpu`. Returns false (and leaves the thread
// unpinned) when the kernel refuses, e.g. the CPU is outside the cgroup.
bool pin_current_thread(int cpu);

// Names the calling thread (visible in top -H and /proc); truncated to 15 chars.
void name_current_thread(const std::string& name);

}  // namespace xcap
