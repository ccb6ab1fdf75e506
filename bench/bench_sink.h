#pragma once
// What bench/xdp_drop.bpf.c records per CPU in its map "bench_sink", read by
// xcap-bench after a replay. Fixed-width kernel types so the BPF program and
// user space agree on the layout.
#include <linux/types.h>

struct bench_sink_stats {
    __u64 packets;   // frames that reached the sink on this CPU
    __u64 first_ns;  // bpf_ktime_get_ns() (CLOCK_MONOTONIC) of the first
    __u64 last_ns;   // and of the last
};
