#pragma once

#include "engine/xdp_attach.h"

struct xcap_pass_bpf;

namespace xcap {

// Replay's pass-through XDP program (bpf/xcap_pass.bpf.c), attached only
// while sending with --xdp-mode: some drivers transmit AF_XDP frames in
// zero-copy mode only while a program is attached. Owns the skeleton and the
// bpf_link. Not thread-safe.
class pass_program {
public:
    pass_program();  // opens and loads; throws failure
    ~pass_program();
    pass_program(const pass_program&) = delete;
    pass_program& operator=(const pass_program&) = delete;

    void attach(const device_info& dev, xdp_mode mode);
    void detach() { _attachment.detach(); }
    xdp_mode mode() const { return _attachment.mode(); }

private:
    xcap_pass_bpf* _skel = nullptr;
    xdp_attachment _attachment;
};

}  // namespace xcap
