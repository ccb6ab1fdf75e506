#pragma once
// BPF_PROG_RUN of an XDP program on one frame, for the filter benchmarks.
#include <bpf/bpf.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

namespace xcap {

// Runs `fd` `reps` times on `data`; returns the retval and, with `ns`, the
// kernel's average time per run.
inline uint32_t prog_run(int fd, const std::vector<uint8_t>& data, int reps, double* ns) {
    std::vector<uint8_t> out(data.size() + 512);
    LIBBPF_OPTS(bpf_test_run_opts, o);
    o.data_in = data.data();
    o.data_size_in = uint32_t(data.size());
    o.data_out = out.data();
    o.data_size_out = uint32_t(out.size());
    o.repeat = reps;
    if (bpf_prog_test_run_opts(fd, &o) != 0) {
        throw std::runtime_error(std::string("BPF_PROG_RUN: ") + std::strerror(errno));
    }
    if (ns) {
        *ns = double(o.duration);
    }
    return o.retval;
}

}  // namespace xcap
