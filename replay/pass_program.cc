#include "replay/pass_program.h"

#include <bpf/libbpf.h>

#include <cerrno>

#include "common/error.h"
#include "xcap_pass.skel.h"

namespace xcap {

void pass_program::destroy::operator()(xcap_pass_bpf* s) const { xcap_pass_bpf__destroy(s); }

pass_program::pass_program() : _skel(xcap_pass_bpf__open_and_load()) {
    if (!_skel) {
        int err = errno;
        auto kind = (err == EPERM || err == EACCES) ? failure_kind::permission : failure_kind::unsupported;
        throw failure(kind, err, "the kernel refused to load replay's pass-through XDP program",
                      "leave out --xdp-mode, or run with CAP_BPF on a kernel with XDP");
    }
}

pass_program::~pass_program() = default;

void pass_program::attach(const device_info& dev, xdp_mode mode) {
    _attachment.attach(bpf_program__fd(_skel->progs.xcap_pass), dev, mode);
}

}  // namespace xcap
