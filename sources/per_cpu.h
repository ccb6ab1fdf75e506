#pragma once

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

namespace xcap {

// The values of one key of a BPF per-CPU array, one per possible CPU; empty
// when the read fails (the counters of a program that is gone read as none).
// A syscall: setup and statistics only, never per packet.
template <class T>
std::vector<T> per_cpu_values(int map_fd, uint32_t key) {
    const int ncpu = libbpf_num_possible_cpus();
    if (ncpu <= 0) {
        return {};
    }
    std::vector<T> values(static_cast<size_t>(ncpu));
    if (bpf_map_lookup_elem(map_fd, &key, values.data()) != 0) {
        return {};
    }
    return values;
}

// The sum over CPUs of a counters struct made of 64-bit counters only (the
// programs' xcap_*_counters), field by field; zeros when the read fails.
template <class T>
T per_cpu_sum(int map_fd, uint32_t key) {
    static_assert(sizeof(T) % sizeof(uint64_t) == 0 && std::is_trivially_copyable_v<T>);
    constexpr size_t fields = sizeof(T) / sizeof(uint64_t);
    uint64_t sum[fields] = {};
    for (const T& value : per_cpu_values<T>(map_fd, key)) {
        uint64_t v[fields];
        std::memcpy(v, &value, sizeof(T));
        for (size_t i = 0; i < fields; ++i) {
            sum[i] += v[i];
        }
    }
    T out;
    std::memcpy(&out, sum, sizeof(T));
    return out;
}

}  // namespace xcap
