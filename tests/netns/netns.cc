#include "netns.h"

#include <bpf/bpf.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <regex>

namespace xcap::test {

child::child(const std::vector<std::string>& argv, const std::string& stdout_path, const std::string& stderr_path,
             int stdin_fd, int stdout_fd) {
    _pid = fork();
    if (_pid == 0) {
        int in = stdin_fd >= 0 ? stdin_fd : open("/dev/null", O_RDONLY);
        int out = stdout_fd >= 0 ? stdout_fd : open(stdout_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int err = open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(in, 0);
        dup2(out, 1);
        dup2(err, 2);
        // Close every other inherited descriptor (pipe ends of other children).
        for (int fd = 3; fd < 1024; ++fd) {
            close(fd);
        }
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, nullptr);
        std::vector<char*> args;
        for (const auto& a : argv) {
            args.push_back(const_cast<char*>(a.c_str()));
        }
        args.push_back(nullptr);
        execvp(args[0], args.data());
        _exit(127);
    }
}

child::~child() {
    if (_pid > 0 && running()) {
        kill(_pid, SIGKILL);
        waitpid(_pid, nullptr, 0);
    }
}

void child::signal(int sig) const {
    if (_pid > 0) {
        kill(_pid, sig);
    }
}

bool child::running() {
    if (_pid <= 0 || _status != -1) {
        return false;
    }
    int st;
    pid_t r = waitpid(_pid, &st, WNOHANG);
    if (r == _pid) {
        _status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        return false;
    }
    return true;
}

int child::wait(double timeout_s) {
    const int steps = int(timeout_s * 100);
    for (int i = 0; i <= steps; ++i) {
        if (!running()) {
            return _status;
        }
        timespec ts{0, 10'000'000};
        nanosleep(&ts, nullptr);
    }
    return -1;
}

bool wait_for_text(const std::string& path, const std::string& needle, double timeout_s, child* writer) {
    for (int i = 0; i <= int(timeout_s * 50); ++i) {
        // Whether it is running first: a writer that has ended may still
        // have written it on its way out.
        const bool ended = writer && !writer->running();
        if (read_text(path).find(needle) != std::string::npos) {
            return true;
        }
        if (ended) {
            return false;
        }
        timespec ts{0, 20'000'000};
        nanosleep(&ts, nullptr);
    }
    return false;
}

bool bpf_prog_exists(unsigned id) {
    int fd = bpf_prog_get_fd_by_id(id);
    if (fd < 0) {
        return false;
    }
    close(fd);
    return true;
}

std::string netns_unavailable_reason() {
    if (geteuid() != 0) {
        return "needs root to create network namespaces and attach XDP";
    }
    if (sh("ip -V").status != 0) {
        return "needs iproute2's ip";
    }
    return "";
}

const std::string& live_frames_refused_reason() {
    static const std::string reason = [] {
        // r0 = XDP_DROP; exit
        const bpf_insn drop[] = {{BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, XDP_DROP}, {BPF_JMP | BPF_EXIT, 0, 0, 0, 0}};
        const int fd = bpf_prog_load(BPF_PROG_TYPE_XDP, "xcap_t_drop", "GPL", drop, 2, nullptr);
        if (fd < 0) {
            return "an XDP program cannot be loaded here (" + std::string(std::strerror(errno)) + ")";
        }
        uint8_t frame[64] = {0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x08, 0x00};
        xdp_md ctx{};
        ctx.data_end = sizeof(frame);
        ctx.ingress_ifindex = 1;  // loopback
        LIBBPF_OPTS(bpf_test_run_opts, opts);
        opts.data_in = frame;
        opts.data_size_in = sizeof(frame);
        opts.ctx_in = &ctx;
        opts.ctx_size_in = sizeof(ctx);
        opts.flags = BPF_F_TEST_XDP_LIVE_FRAMES;
        opts.repeat = 1;
        const int rc = bpf_prog_test_run_opts(fd, &opts);
        const int err = errno;
        close(fd);
        if (rc != 0) {
            return "the kernel refuses BPF_PROG_RUN on live frames (BPF_F_TEST_XDP_LIVE_FRAMES: " +
                   std::string(std::strerror(err)) + "; Linux 5.18 has it, a hardened kernel may refuse it)";
        }
        return std::string();
    }();
    return reason;
}

veth_pair::veth_pair(unsigned queues) {
    static std::atomic<int> counter{0};
    std::string tag = std::to_string(getpid()) + "-" + std::to_string(counter++);
    _ns_a = "xcap-a-" + tag;
    _ns_b = "xcap-b-" + tag;
    std::string short_tag = std::to_string(getpid() % 100000) + std::to_string(counter.load());
    _if_a = "xa" + short_tag;
    _if_b = "xb" + short_tag;
    std::string q = std::to_string(queues);
    std::string script =
        "set -e\n"
        "ip netns add " + _ns_a + "\n"
        "ip netns add " + _ns_b + "\n"
        "ip link add " + _if_a + " numtxqueues " + q + " numrxqueues " + q + " netns " + _ns_a +
        " type veth peer name " + _if_b + " numtxqueues " + q + " numrxqueues " + q + " netns " + _ns_b + "\n";
    for (const auto& [ns, dev, addr] : {std::tuple{_ns_a, _if_a, "198.18.0.1/30"}, std::tuple{_ns_b, _if_b, "198.18.0.2/30"}}) {
        script += "ip netns exec " + ns + " sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1\n";
        script += "ip -n " + ns + " addr add " + addr + " dev " + dev + "\n";
        script += "ip -n " + ns + " link set " + dev + " up\n";
    }
    for (unsigned i = 0; i < queues; ++i) {
        char mask[32];
        std::snprintf(mask, sizeof(mask), "%x", 1u << (i % 32));
        script += "ip netns exec " + _ns_a + " sh -c 'echo " + mask + " > /sys/class/net/" + _if_a + "/queues/tx-" +
                  std::to_string(i) + "/xps_cpus'\n";
    }
    auto r = sh("sh -c " + quote(script));
    _ok = r.status == 0;
    _error = r.output;
}

veth_pair::~veth_pair() {
    // Deleting the namespaces deletes the veth pair and anything attached to it.
    sh("ip netns del " + _ns_a);
    sh("ip netns del " + _ns_b);
}

std::vector<std::string> veth_pair::in_receiver(std::vector<std::string> argv) const {
    argv.insert(argv.begin(), {"ip", "netns", "exec", _ns_b});
    return argv;
}

std::vector<std::string> veth_pair::in_sender(std::vector<std::string> argv) const {
    argv.insert(argv.begin(), {"ip", "netns", "exec", _ns_a});
    return argv;
}

uint64_t veth_pair::receiver_rx_packets() const {
    auto r = sh("ip netns exec " + _ns_b + " cat /sys/class/net/" + _if_b + "/statistics/rx_packets");
    return r.status == 0 ? std::stoull(r.output) : 0;
}

int veth_pair::receiver_promiscuity() const {
    auto r = sh("ip -d -n " + _ns_b + " link show dev " + _if_b);
    std::smatch m;
    static const std::regex re("promiscuity ([0-9]+)");
    return std::regex_search(r.output, m, re) ? std::stoi(m[1]) : -1;
}

bool veth_pair::receiver_has_xdp(unsigned* prog_id) const {
    auto r = sh("ip -d -n " + _ns_b + " link show dev " + _if_b);
    std::smatch m;
    static const std::regex re("prog/xdp id ([0-9]+)");
    if (std::regex_search(r.output, m, re)) {
        if (prog_id) {
            *prog_id = unsigned(std::stoul(m[1]));
        }
        return true;
    }
    return false;
}

bool veth_pair::wait_receiver_xdp(bool want, double timeout_s) const {
    for (int i = 0; i <= int(timeout_s * 20); ++i) {
        if (receiver_has_xdp() == want) {
            return true;
        }
        timespec ts{0, 50'000'000};
        nanosleep(&ts, nullptr);
    }
    return false;
}

}  // namespace xcap::test
