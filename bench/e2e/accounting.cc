#include "accounting.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <dirent.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "bench_sink.h"
#include "softirq_time.skel.h"

namespace xcap::e2e {

net_rx_timer::net_rx_timer() {
    _skel = softirq_time_bpf::open_and_load();
    if (!_skel) {
        _why = std::string("cannot load the softirq timer: ") + std::strerror(errno);
    }
}

net_rx_timer::~net_rx_timer() {
    if (_skel) {
        softirq_time_bpf::destroy(_skel);
    }
}

bool net_rx_timer::start() {
    if (!_skel) {
        return false;
    }
    if (softirq_time_bpf::attach(_skel) != 0) {
        _why = std::string("cannot attach the softirq timer: ") + std::strerror(errno);
        return false;
    }
    _t0 = total_s();
    return true;
}

double net_rx_timer::stop() {
    double d = total_s() - _t0;
    softirq_time_bpf::detach(_skel);
    return d;
}

double net_rx_timer::total_s() const {
    std::vector<bench_softirq_time> per_cpu(size_t(std::max(libbpf_num_possible_cpus(), 1)));
    uint32_t key = 0;
    if (bpf_map__lookup_elem(_skel->maps.net_rx_time, &key, sizeof(key), per_cpu.data(),
                             per_cpu.size() * sizeof(bench_softirq_time), 0) != 0) {
        return 0;
    }
    uint64_t ns = 0;
    for (const auto& t : per_cpu) {
        ns += t.total_ns;
    }
    return double(ns) / 1e9;
}

double sched_s(pid_t pid) {
    const std::string dir = "/proc/" + std::to_string(pid) + "/task";
    DIR* d = opendir(dir.c_str());
    if (!d) {
        return -1;
    }
    uint64_t ns = 0;
    bool any = false;
    while (dirent* e = readdir(d)) {
        if (e->d_name[0] == '.') {
            continue;
        }
        std::istringstream in(read_text(dir + "/" + e->d_name + "/schedstat"));
        uint64_t v = 0;
        if (in >> v) {
            ns += v;
            any = true;
        }
    }
    closedir(d);
    return any ? double(ns) / 1e9 : -1;
}

std::optional<sink_totals> read_sink(unsigned prog_id) {
    int prog = bpf_prog_get_fd_by_id(prog_id);
    if (prog < 0) {
        return std::nullopt;
    }
    uint32_t map_ids[8] = {};
    bpf_prog_info info{};
    info.nr_map_ids = 8;
    info.map_ids = uint64_t(uintptr_t(map_ids));
    uint32_t len = sizeof(info);
    int rc = bpf_obj_get_info_by_fd(prog, &info, &len);
    close(prog);
    if (rc != 0) {
        return std::nullopt;
    }
    for (uint32_t i = 0; i < std::min<uint32_t>(info.nr_map_ids, 8); ++i) {
        int map = bpf_map_get_fd_by_id(map_ids[i]);
        if (map < 0) {
            continue;
        }
        bpf_map_info mi{};
        uint32_t mlen = sizeof(mi);
        if (bpf_obj_get_info_by_fd(map, &mi, &mlen) == 0 && std::string(mi.name) == "bench_sink") {
            int cpus = libbpf_num_possible_cpus();
            std::vector<bench_sink_stats> per_cpu(size_t(std::max(cpus, 1)));
            uint32_t key = 0;
            sink_totals t;
            if (bpf_map_lookup_elem(map, &key, per_cpu.data()) == 0) {
                for (const auto& s : per_cpu) {
                    if (s.packets == 0) {
                        continue;
                    }
                    t.packets += s.packets;
                    t.first_ns = t.first_ns ? std::min<uint64_t>(t.first_ns, s.first_ns) : s.first_ns;
                    t.last_ns = std::max<uint64_t>(t.last_ns, s.last_ns);
                }
                close(map);
                return t;
            }
        }
        close(map);
    }
    return std::nullopt;
}

}  // namespace xcap::e2e
