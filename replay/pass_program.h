#pragma once

#include <memory>

#include "engine/xdp_attach.h"

struct xcap_pass_bpf;

namespace xcap {

// Replay's pass-through XDP program (bpf/xcap_pass.bpf.c), attached only
// while sending with --xdp-mode: some drivers transmit AF_XDP frames in
// zero-copy mode only while a program is attached. Owns the skeleton and the
// bpf_link (the link is released first). Not thread-safe.
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
    // The skeleton's type is incomplete here: its deleter is defined beside
    // the generated header (replay/owned.h's style, out of line).
    struct destroy {
        void operator()(xcap_pass_bpf* s) const;
    };
    std::unique_ptr<xcap_pass_bpf, destroy> _skel;
    xdp_attachment _attachment;  // declared after the skeleton: detached before it is destroyed
};

}  // namespace xcap
