#pragma once

#include <cstdint>

#include "engine/device.h"
#include "engine/xdp_attach.h"

namespace xcap {

// What the XDP programs a capture attaches to an interface share
// (rx_program, tap_program): attached alone, or behind an entry program that
// tail-calls it (a filter, the device-bound program), through a bpf_link.
// The owner detaches in its destructor, before its skeleton goes. Not
// thread-safe; setup and teardown on one thread.
class attachable_program {
public:
    virtual ~attachable_program() = default;

    virtual int prog_fd() const = 0;
    uint32_t id() const { return program_id(prog_fd()); }

    // Attaches the program, or `entry_fd` (a program that tail-calls it) in
    // its place.
    void attach(const device_info& dev, xdp_mode mode, int entry_fd = -1) {
        _attachment.attach(entry_fd >= 0 ? entry_fd : prog_fd(), dev, mode);
    }
    void detach() { _attachment.detach(); }
    bool attached() const { return _attachment.attached(); }
    xdp_mode mode() const { return _attachment.mode(); }

protected:
    xdp_attachment _attachment;
};

}  // namespace xcap
