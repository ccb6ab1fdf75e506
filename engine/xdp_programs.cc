#include "engine/xdp_programs.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>

#include <fcntl.h>

#include <cerrno>

#include "common/error.h"

namespace xcap {
namespace {

xdp_program_ref ref_from_fd(int fd_to_dup) {
    xdp_program_ref r;
    r.fd.reset(fcntl(fd_to_dup, F_DUPFD_CLOEXEC, 3));
    if (!r.fd) {
        throw failure(failure_kind::runtime, errno, "cannot duplicate an XDP program's descriptor");
    }
    r.id = program_id(r.fd.get());
    r.name = program_name_of(r.fd.get());
    r.function = program_function_name(r.fd.get());
    return r;
}

}  // namespace

std::string xdp_program_ref::describe() const { return "'" + name + "' (id " + std::to_string(id) + ")"; }

std::string program_name_of(int prog_fd) {
    bpf_prog_info info{};
    uint32_t len = sizeof(info);
    if (bpf_obj_get_info_by_fd(prog_fd, &info, &len) != 0) {
        return "";
    }
    return info.name;
}

std::string program_function_name(int prog_fd) {
    bpf_prog_info info{};
    uint32_t len = sizeof(info);
    if (bpf_obj_get_info_by_fd(prog_fd, &info, &len) != 0 || info.btf_id == 0 || info.nr_func_info == 0) {
        return "";
    }
    // The first function record is the program's entry function.
    bpf_func_info func{};
    bpf_prog_info one{};
    one.nr_func_info = 1;
    one.func_info_rec_size = sizeof(func);
    one.func_info = reinterpret_cast<uint64_t>(&func);
    len = sizeof(one);
    if (bpf_obj_get_info_by_fd(prog_fd, &one, &len) != 0) {
        return "";
    }
    btf* b = btf__load_from_kernel_by_id(info.btf_id);
    if (!b) {
        return "";
    }
    std::string name;
    if (const btf_type* t = btf__type_by_id(b, func.type_id)) {
        if (const char* n = btf__name_by_offset(b, t->name_off)) {
            name = n;
        }
    }
    btf__free(b);
    return name;
}

xdp_programs_found find_xdp_programs(const device_info& dev) {
    auto attached = query_attached(dev.ifindex);
    if (!attached) {
        throw failure(failure_kind::interface, dev.name + " has no XDP program attached: there is nothing to trace",
                      "attach one first, or capture the interface's packets with `xcap -i " + dev.name +
                          " -w FILE`");
    }
    xdp_programs_found found;
    found.attached = *attached;
    // libxdp tells a dispatcher from a single program, and lists the
    // dispatcher's components with their own descriptors.
    xdp_multiprog* mp = xdp_multiprog__get_from_ifindex(int(dev.ifindex));
    if (mp && !libxdp_get_error(mp)) {
        if (!xdp_multiprog__is_legacy(mp)) {
            found.dispatcher = true;
            for (xdp_program* p = xdp_multiprog__next_prog(nullptr, mp); p; p = xdp_multiprog__next_prog(p, mp)) {
                found.programs.push_back(ref_from_fd(xdp_program__fd(p)));
            }
        }
        xdp_multiprog__close(mp);
    }
    if (found.programs.empty()) {
        unique_fd fd(bpf_prog_get_fd_by_id(attached->id));
        if (!fd) {
            throw failure(failure_kind::runtime, errno,
                          "cannot open XDP program " + attached->describe() + " on " + dev.name);
        }
        found.programs.push_back(ref_from_fd(fd.get()));
    }
    return found;
}

std::vector<xdp_program_ref> select_programs(xdp_programs_found& found, const std::string& wanted,
                                             const std::string& ifname) {
    std::vector<xdp_program_ref> out;
    for (auto& p : found.programs) {
        if (wanted.empty() || wanted == std::to_string(p.id) || wanted == p.name || wanted == p.function) {
            out.push_back(std::move(p));
        }
    }
    if (out.empty()) {
        std::string there;
        for (const auto& p : found.programs) {
            there += (there.empty() ? "" : ", ") + p.describe();
        }
        throw failure(failure_kind::interface, "--program " + wanted + ": no such XDP program on " + ifname,
                      "it runs " + there + "; name one of them by name or id");
    }
    found.programs.clear();
    return out;
}

}  // namespace xcap
