#include "filter_support.h"

#include <bpf/bpf.h>
#include <linux/bpf.h>

#include <cerrno>
#include <cstring>
#include <system_error>

#include "filter/translate.h"

namespace xcap::test {

const std::string& bpf_skip_reason() {
    static const std::string reason = [] {
        std::vector<bpf_insn> pass = {ebpf::mov64_imm(0, XDP_PASS), ebpf::exit_insn()};
        try {
            load_xdp_program(pass, false, "a two-instruction XDP program", false);
            return std::string();
        } catch (const std::exception& e) {
            return std::string("BPF programs cannot be loaded here (") + e.what() +
                   "); these tests need root or CAP_BPF+CAP_NET_ADMIN";
        }
    }();
    return reason;
}

xdp_run run_xdp(int prog_fd, const std::vector<uint8_t>& packet, const xdp_run_options& options) {
    std::vector<uint8_t> out(packet.size() + 4096);
    xdp_md ctx{};
    LIBBPF_OPTS(bpf_test_run_opts, opts);
    opts.data_in = packet.data();
    opts.data_size_in = uint32_t(packet.size());
    opts.data_out = out.data();
    opts.data_size_out = uint32_t(out.size());
    opts.repeat = options.repeat;
    if (options.ingress_ifindex != 0) {
        ctx.data_end = uint32_t(packet.size());
        ctx.ingress_ifindex = options.ingress_ifindex;
        ctx.rx_queue_index = options.rx_queue_index;
        opts.ctx_in = &ctx;
        opts.ctx_size_in = sizeof(ctx);
    }
    if (bpf_prog_test_run_opts(prog_fd, &opts) != 0) {
        throw std::system_error(errno, std::generic_category(), "BPF_PROG_RUN");
    }
    xdp_run r;
    r.retval = opts.retval;
    r.duration_ns = opts.duration;
    // The kernel copies out from data_meta: metadata first, then the frame.
    if (opts.data_size_out == packet.size() + sizeof(xcap_meta)) {
        r.has_meta = true;
        std::memcpy(&r.meta, out.data(), sizeof(xcap_meta));
    }
    return r;
}

}  // namespace xcap::test
