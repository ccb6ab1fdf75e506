#include "filter_support.h"

#include <bpf/bpf.h>
#include <linux/bpf.h>

#include <cerrno>
#include <cstring>
#include <system_error>

#include "filter/assembler.h"
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

k_program::k_program(const compiled_filter& filter, bool frags, bool verbose)
    : _map(bpf_map_create(BPF_MAP_TYPE_ARRAY, "xcap_test_k", sizeof(uint32_t), sizeof(uint32_t), 1, nullptr)) {
    if (!_map) {
        throw std::system_error(errno, std::generic_category(), "creating the k map");
    }
    using namespace ebpf;
    assembler a;
    // As xdp_filter_program builds it: loops verify far faster with the helper.
    a.append(translate(filter, {.frags = frags, .indirect_by_helper = has_backward_jumps(filter)}));
    // Here w0 = k and r6 = ctx; the fragment's stack is dead.
    a.store(BPF_W, r10, -4, r0);
    a.store_imm(BPF_W, r10, -8, 0);
    a.load_map_fd(r1, _map.get());
    a.mov64_reg(r2, r10);
    a.alu64_imm(BPF_ADD, r2, -8);
    a.mov64_reg(r3, r10);
    a.alu64_imm(BPF_ADD, r3, -4);
    a.mov64_imm(r4, BPF_ANY);
    a.call(BPF_FUNC_map_update_elem);
    // r0 = k ? XDP_PASS : XDP_DROP
    a.load(BPF_W, r1, r10, -4);
    a.mov32_imm(r0, XDP_PASS);
    auto matched = a.new_label();
    a.jump_imm(BPF_JMP32, BPF_JNE, r1, 0, matched);
    a.mov32_imm(r0, XDP_DROP);
    a.bind(matched);
    a.exit();
    _prog = load_xdp_program(a.finish(), frags, "the filter '" + filter.expression + "' with the tests' exit", verbose);
}

k_program::result k_program::run(const std::vector<uint8_t>& packet) const {
    const uint32_t key = 0, zero = 0;
    bpf_map_update_elem(_map.get(), &key, &zero, BPF_ANY);
    result r;
    r.retval = run_xdp(_prog.get(), packet).retval;
    bpf_map_lookup_elem(_map.get(), &key, &r.k);
    return r;
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
