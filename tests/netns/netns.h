#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "tools.h"

namespace xcap::test {

// Shell commands, as tools.h runs them (stdout and stderr together).
using shell_result = command_result;
inline shell_result sh(const std::string& cmd) { return run_command(cmd); }
inline std::string quote(const std::string& word) { return shell_quote(word); }

// A child process with its stdout and stderr in files (or given fds).
// The destructor SIGKILLs and reaps it if it is still running, so a failing
// test never leaves it behind.
class child {
public:
    child() = default;
    // stdin_fd/stdout_fd: -1 for /dev/null and the stdout file respectively.
    child(const std::vector<std::string>& argv, const std::string& stdout_path, const std::string& stderr_path,
          int stdin_fd = -1, int stdout_fd = -1);
    child(child&& o) noexcept : _pid(o._pid), _status(o._status) { o._pid = -1; }
    child& operator=(child&&) = delete;
    ~child();

    pid_t pid() const { return _pid; }
    void signal(int sig) const;
    // Waits up to `timeout_s`; returns the exit code, 128+signal when killed
    // by one, or -1 on timeout (the child is left running).
    int wait(double timeout_s);
    bool running();

private:
    pid_t _pid = -1;
    int _status = -1;
};

// Polls the file at `path` until it holds `needle` (a child's sign that it
// is ready): true then; false after `timeout_s`, or once `writer` (when
// given) has ended without writing it.
bool wait_for_text(const std::string& path, const std::string& needle, double timeout_s, child* writer = nullptr);

// Two network namespaces joined by a veth pair with `queues` queues each way,
// IPv6 off (no unasked router solicitations), addresses 198.18.0.1/30 and
// 198.18.0.2/30, and XPS set so that CPU i transmits on queue i (so a sender
// pinned to CPU i reaches receive queue i of the peer). Everything is removed
// in the destructor, whether the test passed or not.
class veth_pair {
public:
    explicit veth_pair(unsigned queues = 2);
    ~veth_pair();
    veth_pair(const veth_pair&) = delete;
    veth_pair& operator=(const veth_pair&) = delete;

    const std::string& sender_ns() const { return _ns_a; }
    const std::string& receiver_ns() const { return _ns_b; }
    const std::string& sender_if() const { return _if_a; }
    const std::string& receiver_if() const { return _if_b; }
    bool ok() const { return _ok; }
    const std::string& error() const { return _error; }

    // argv prefixed with `ip netns exec <ns>`.
    std::vector<std::string> in_receiver(std::vector<std::string> argv) const;
    std::vector<std::string> in_sender(std::vector<std::string> argv) const;

    // The receiving interface's rx_packets counter.
    uint64_t receiver_rx_packets() const;

    // The receiving interface's promiscuity count (ip -d link: how many
    // holders ask for promiscuous mode); -1 when it cannot be read.
    int receiver_promiscuity() const;

    // Whether an XDP program is attached to the receiving interface, and its id.
    bool receiver_has_xdp(unsigned* prog_id = nullptr) const;
    // Polls until receiver_has_xdp() equals `want` or `timeout_s` passes.
    bool wait_receiver_xdp(bool want, double timeout_s) const;

private:
    std::string _ns_a, _ns_b, _if_a, _if_b, _error;
    bool _ok = false;
};

// Whether a BPF program with this id is loaded in the kernel.
bool bpf_prog_exists(unsigned id);

// Why these tests cannot run here, or "" when they can.
std::string netns_unavailable_reason();

// Why the kernel will not run XDP programs on live frames (BPF_PROG_RUN
// with BPF_F_TEST_XDP_LIVE_FRAMES: replay's --xdp-tx, the benchmarks'
// generator), or "" when it does. Before 5.18 it does not know the flag; a
// hardened kernel may refuse it even to root (EPERM). Tried once, on
// loopback, with a program that drops the frame: nothing is sent.
const std::string& live_frames_refused_reason();

}  // namespace xcap::test
