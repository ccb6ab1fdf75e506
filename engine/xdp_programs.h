#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/fd.h"
#include "engine/device.h"
#include "engine/xdp_attach.h"

namespace xcap {

// One XDP program that sees an interface's packets, as trace mode looks for
// it: the program attached, or one of the component programs behind a
// libxdp dispatcher. Holds a descriptor of it (the attach target of fentry).
struct xdp_program_ref {
    uint32_t id = 0;
    std::string name;      // the kernel's name (at most 15 characters)
    std::string function;  // its BTF function name, the fentry target; "" when it has no BTF
    unique_fd fd;

    // "'name' (id N)"
    std::string describe() const;
};

// What is attached to an interface, read through libxdp so that a libxdp
// dispatcher is seen with its components.
struct xdp_programs_found {
    attached_program attached;              // what the interface holds
    bool dispatcher = false;                // a libxdp dispatcher: `programs` are its components
    std::vector<xdp_program_ref> programs;  // what runs for the packets, in run order
};

// Throws failure(interface) when no XDP program is attached to `dev`.
xdp_programs_found find_xdp_programs(const device_info& dev);

// The programs of `found` that `wanted` (--program NAME|ID) names: by id, by
// kernel name or by function name; all of them when `wanted` is empty.
// Throws failure(interface) naming what there is when none matches.
std::vector<xdp_program_ref> select_programs(xdp_programs_found& found, const std::string& wanted,
                                             const std::string& ifname);

// The BTF name of a loaded program's (first) function, or "" without BTF.
std::string program_function_name(int prog_fd);

// A loaded program's kernel name, or "" when it cannot be read.
std::string program_name_of(int prog_fd);

}  // namespace xcap
