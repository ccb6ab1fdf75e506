#pragma once

// What the xcap trace tests share (trace_*_test.cc, one executable,
// xcap_trace_tests): the tests' own XDP program (xdp_actions.bpf.c: action
// by UDP port, one byte rewritten, an xdpcap hook on its way out) on the
// receiving veth; frames the test builds itself, sent from the other end
// through an AF_PACKET socket, so every byte is known; a reader of the
// pcapng options xcap trace writes; and the fixtures. Needs root; skips
// with the reason otherwise.
//
// Host lane (6.18, fentry refused): the refusal (exit 7, nothing loaded),
// the tap fallback where there is no program to trace, and the whole --hook
// path. Guest lane (6.1 under qemu, tests/vm): the same, plus fentry/fexit
// (TraceFentry.*), which skip with the reason wherever the kernel refuses
// them.
//
// Everything here is for the test's main thread.

#include <bpf/libbpf.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "netns_test.h"

struct xdp_actions_bpf;
struct xdp_actions_frags_bpf;

namespace xcap::test {

// The XDP actions, by number (XDP_ABORTED = 0 .. XDP_REDIRECT = 4).
constexpr int actions = 5;
inline constexpr const char* action_names[] = {"XDP_ABORTED", "XDP_DROP", "XDP_PASS", "XDP_TX", "XDP_REDIRECT"};

// A bpffs of the test's own, mounted in its scratch directory (not under
// /sys, which `ip netns exec` remounts), unmounted however the test ends.
struct bpffs_mount {
    std::string dir;
    bool ok = false;
    explicit bpffs_mount(const std::string& d);
    ~bpffs_mount();
};

// The tests' XDP program on the receiving veth (native mode), through a
// bpf_link it holds; its hook map pinned at `pin` when given. With `frags`,
// the build loaded as xdp.frags (for jumbo frames). Detached, unpinned and
// unloaded when it goes.
class user_program {
public:
    user_program(const veth_pair& net, const std::string& pin, bool frags = false);
    ~user_program();
    user_program(const user_program&) = delete;
    user_program& operator=(const user_program&) = delete;

    bool ok() const { return _error.empty(); }
    const std::string& error() const { return _error; }
    uint32_t id() const;
    int hook_fd() const { return bpf_map__fd(_hook); }
    // Runs on a frame in several buffers.
    uint64_t multi_buffer_runs() const;
    // How many packets it ran for with each action (the tests' UDP only).
    std::vector<uint64_t> runs() const;
    // Packets that were not the tests' UDP (an ARP reply to the receiver's
    // own ARP request, when its stack answers a PASS frame with ICMP): it
    // passes them.
    uint64_t others() const;
    uint64_t total_runs() const;
    // Slots of the hook that hold a program.
    int hook_slots_used() const;

private:
    std::string _pin;
    xdp_actions_bpf* _skel = nullptr;
    xdp_actions_frags_bpf* _frags_skel = nullptr;
    bpf_program* _prog = nullptr;
    bpf_map* _hook = nullptr;
    bpf_map* _runs = nullptr;
    bpf_map* _multi = nullptr;
    int _link = -1;
    std::string _error;
};

// Frame `i` of a test run: Ethernet/IPv4/UDP 198.18.0.1 -> 198.18.0.2, to
// port 9000 + i % 6 (9005: no rule, PASS), payload 'r' (odd i: the program
// makes it 'R') or 'k', then the number i, padded to `size` bytes.
std::vector<uint8_t> test_frame(uint32_t i, const uint8_t dst_mac[6], size_t size = 64);

// The action the tests' program takes for frame `i`.
int expected_action(uint32_t i);

// The test frame as the program leaves it.
std::vector<uint8_t> rewritten(std::vector<uint8_t> f);

// The number a test frame carries, or -1.
int64_t frame_number(const std::vector<uint8_t>& d);

// An AF_PACKET socket in the sender's namespace, sending on its veth.
class frame_sender {
public:
    explicit frame_sender(const veth_pair& net);
    ~frame_sender();
    frame_sender(const frame_sender&) = delete;
    frame_sender& operator=(const frame_sender&) = delete;
    // Retries while the qdisc is full; false on any other error (errno says).
    bool send(const std::vector<uint8_t>& f) const;

private:
    int _fd = -1;
    int _ifindex = 0;
};

// One Enhanced Packet Block of a pcapng file with the options xcap writes.
struct epb {
    uint32_t interface = 0;
    uint32_t orig_len = 0;
    std::vector<uint8_t> data;
    uint32_t flags = 0;
    bool has_verdict = false;
    uint8_t verdict_type = 0;
    uint64_t verdict = 0;
    bool has_id = false;
    uint64_t packet_id = 0;
    uint32_t queue = 0;
    uint64_t dropcount = 0;
    std::string comment;
};

// Every EPB of a little-endian pcapng file (the host's order, as xcap writes).
std::vector<epb> read_epbs(const std::string& path, std::string* error);

// Why fentry/fexit cannot be tried here: "" when this kernel loads them on
// an XDP program (checked with xcap's own recorder on the tests' program).
std::string fentry_refused_reason();

// Loaded BPF programs whose name starts with `prefix`.
int programs_named(const std::string& prefix);

// `err` is one line and holds `part`.
void expect_one_line(const std::string& err, const std::string& part);

// The summary's action line of `who`, as {action: count}.
std::map<int, uint64_t> summary_actions(const std::string& err, const std::string& who);

class Trace : public netns_test {
protected:
    void prepare() override;

    // Starts `xcap trace ARGS` (in the receiver's namespace when `in_ns`),
    // and waits for its "tracing" line.
    child start_trace(std::vector<std::string> args, bool in_ns, const std::string& name = "trace");

    // Sends frames [0, n) and waits until the program ran for them all.
    void send_frames(const user_program& prog, uint32_t n, size_t size = 64);

    // Runs `xcap trace ARGS` (as start_trace) while frames [0, n) of `size`
    // bytes go through `prog` (as send_frames), then stops it with SIGINT:
    // its exit status, -1 when it has not ended within `timeout_s`.
    int trace_while_sending(std::vector<std::string> args, bool in_ns, const user_program& prog, uint32_t n,
                            const std::string& name = "trace", size_t size = 64, double timeout_s = 60);

    uint8_t mac[6] = {};  // the receiver's
};

// fentry/fexit: where the kernel allows them (the guest lane); skipped with
// the reason elsewhere.
class TraceFentry : public Trace {
protected:
    void prepare() override;
};

}  // namespace xcap::test
