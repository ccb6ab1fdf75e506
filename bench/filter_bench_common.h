#pragma once
// What the two filter benchmarks share (bench/filter_bench.cc: the
// translated filter against the kernel's socket filter; bench/trace_filter:
// trace's interpreter against the translated filter): the expressions, the
// translated filter alone as an XDP program, and BPF_PROG_RUN of one frame.
#include <bpf/bpf.h>
#include <linux/bpf.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "filter/assembler.h"
#include "filter/filter.h"
#include "filter/translate.h"

namespace xcap {

// Index 0 is no program work at all (a program that only returns): what
// BPF_PROG_RUN itself costs per run, to subtract from the rest.
inline const char* const bench_expressions[] = {
    nullptr,
    "",
    "udp",
    "tcp dst port 80 or udp dst port 53 or icmp or arp or vlan 100",
    "net 10.0.0.0/8 or net 172.16.0.0/12 or host 192.168.1.1 or tcp port 22 or tcp port 23 or tcp port 25 or "
    "udp port 53 or tcp port 110 or udp port 123 or tcp port 143 or udp port 161 or tcp port 389 or "
    "tcp port 443 or udp port 500 or tcp port 993 or tcp port 995 or udp port 1812 or tcp port 3306 or "
    "tcp port 5432 or tcp port 80",
};
inline const char* const bench_labels[] = {"empty program", "no filter", "1 term", "5 terms", "20 terms"};

// The translated filter alone in an XDP program: XDP_PASS on a match,
// XDP_DROP otherwise.
inline std::vector<bpf_insn> filter_only(const compiled_filter& f) {
    using namespace ebpf;
    assembler as;
    as.append(translate(f));
    auto no = as.new_label();
    as.jump_imm(BPF_JMP32, BPF_JEQ, r0, 0, no);
    as.mov32_imm(r0, XDP_PASS);
    as.exit();
    as.bind(no);
    as.mov32_imm(r0, XDP_DROP);
    as.exit();
    return as.finish();
}

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
