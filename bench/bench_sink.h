#pragma once
// The layouts xcap-bench shares with its BPF programs: fixed-width kernel
// types, so both sides agree.

// What bench/xdp_drop.bpf.c records per CPU in its map "bench_sink", read by
// xcap-bench after a replay.
#include <linux/types.h>

struct bench_sink_stats {
    __u64 packets;   // frames that reached the sink on this CPU
    __u64 first_ns;  // bpf_ktime_get_ns() (CLOCK_MONOTONIC) of the first
    __u64 last_ns;   // and of the last
};

// What bench/softirq_time.bpf.c keeps per CPU in its map "net_rx_time".
struct bench_softirq_time {
    __u64 started_ns;  // the running NET_RX softirq's start, 0 when none runs
    __u64 total_ns;    // NET_RX softirq time since the program was attached
    __u64 runs;
};
