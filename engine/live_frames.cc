#include "engine/live_frames.h"

#include <bpf/bpf.h>
#include <linux/bpf.h>

#include <cerrno>

namespace xcap {

int run_live_frames(int prog_fd, unsigned ifindex, const std::vector<uint8_t>& frame, uint64_t n) {
    xdp_md ctx{};
    ctx.ingress_ifindex = ifindex;
    ctx.data_end = uint32_t(frame.size());  // the kernel insists: data_end == the frame's size
    LIBBPF_OPTS(bpf_test_run_opts, opts);
    opts.data_in = frame.data();
    opts.data_size_in = uint32_t(frame.size());
    opts.ctx_in = &ctx;
    opts.ctx_size_in = sizeof(ctx);
    opts.repeat = int(n);
    opts.flags = BPF_F_TEST_XDP_LIVE_FRAMES;
    opts.batch_size = 64;  // frames per flush of the redirect queues
    return bpf_prog_test_run_opts(prog_fd, &opts) == 0 ? 0 : errno;
}

}  // namespace xcap
