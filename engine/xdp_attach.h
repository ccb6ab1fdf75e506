#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/fd.h"
#include "engine/device.h"

namespace xcap {

enum class xdp_mode { automatic, native, generic };  // to_string() names them in this order

const char* to_string(xdp_mode mode);

// Routes libbpf's and libxdp's own log lines through xcap: silent unless
// `verbose`, and then prefixed "xcap: libbpf:" so users can tell them apart.
void route_library_logs(bool verbose);

// A process that holds a file descriptor of a bpf_link.
// The processes (other than this one) holding a BPF object descriptor of
// kind `anon_inode` ("anon_inode:bpf_link", "anon_inode:bpf-map") whose
// /proc/PID/fdinfo has the line `fdinfo_line` (e.g. "map_id:\t7").
std::vector<pid_t> bpf_object_holders(const char* anon_inode, const std::string& fdinfo_line);

struct link_holder {
    pid_t pid = 0;
    std::string command;  // /proc/PID/comm
};

// What is attached to an interface right now (any owner).
struct attached_program {
    uint32_t id = 0;
    std::string name;
    std::string mode;  // "native", "generic", "offload" or "multi"
    uint32_t link_id = 0;  // the bpf_link holding it, 0 when attached through netlink
    std::vector<link_holder> holders;  // the processes holding that link

    // "'name' (id N, native mode)", and who holds it.
    std::string describe() const;
    // What the user can do to free the interface.
    std::string removal_advice(const std::string& ifname) const;
};

// The XDP program attached to `ifindex` in any mode, or nullopt.
std::optional<attached_program> query_attached(unsigned ifindex);

// Removes whatever XDP program is attached to the interface (for --force).
// Uses libxdp so that a libxdp dispatcher is taken down with its pins.
// Throws failure(xdp_busy) when it cannot (e.g. another process's bpf_link).
void remove_attached(const device_info& dev);

// The check every mode that attaches makes before it sets anything up, and
// the removal it makes right before it attaches: another XDP program on the
// interface is refused (naming it and who holds it) unless --force, and with
// --force it is taken off only at the last moment, so a setup that fails
// earlier leaves it in place. Not thread-safe; setup only.
class xdp_takeover {
public:
    // Throws failure(xdp_busy) when a program is attached and !force;
    // `refusal_hint` replaces the default advice when not empty.
    xdp_takeover(const device_info& dev, bool force, const std::string& refusal_hint = {});

    // With --force: removes the program found at construction, telling `info`.
    void apply(const std::function<void(const std::string&)>& info);

    const std::optional<attached_program>& foreign() const { return _foreign; }

private:
    device_info _dev;
    std::optional<attached_program> _foreign;
};

// One XDP program attached to one interface through a bpf_link. The kernel
// removes a bpf_link attachment when its last fd closes, so the attachment
// cannot outlive the process, not even after SIGKILL. Not thread-safe.
class xdp_attachment {
public:
    xdp_attachment() = default;
    ~xdp_attachment() { detach(); }
    xdp_attachment(const xdp_attachment&) = delete;
    xdp_attachment& operator=(const xdp_attachment&) = delete;

    // Attaches `prog_fd` to the interface: native first when `mode` is
    // automatic, then generic. Throws failure (xdp_busy when something else
    // is attached, unsupported when the requested mode is refused, naming the
    // MTU when that is why).
    void attach(int prog_fd, const device_info& dev, xdp_mode mode);
    // Removes the attachment; idempotent.
    void detach();
    bool attached() const { return _link.valid(); }
    // The mode the attachment got (native or generic); automatic when not attached.
    xdp_mode mode() const { return _mode; }

private:
    unique_fd _link;
    xdp_mode _mode = xdp_mode::automatic;
};

// The id the kernel gave a loaded program, or 0.
uint32_t program_id(int prog_fd);

}  // namespace xcap
