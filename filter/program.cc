#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>

#include "bpf/xcap_abi.h"
#include "common/error.h"
#include "filter/assembler.h"
#include "filter/filter.h"
#include "filter/translate.h"

namespace xcap {
namespace {

using namespace ebpf;

constexpr int16_t key_slot = -8;  // the fragment's stack is dead once it has run

static_assert(sizeof(xcap_meta) % 4 == 0 && sizeof(xcap_meta) <= 32);

// counters[0].field += 1 (per CPU, so no atomics: XDP does not nest on a CPU).
void count(assembler& a, int map_fd, size_t field_offset) {
    auto skip = a.new_label();
    a.store_imm(BPF_W, r10, key_slot, 0);
    a.mov64_reg(r2, r10);
    a.alu64_imm(BPF_ADD, r2, key_slot);
    a.load_map_fd(r1, map_fd);
    a.call(BPF_FUNC_map_lookup_elem);
    a.jump_imm(BPF_JMP, BPF_JEQ, r0, 0, skip);
    a.load(BPF_DW, r1, r0, int16_t(field_offset));
    a.alu64_imm(BPF_ADD, r1, 1);
    a.store(BPF_DW, r0, int16_t(field_offset), r1);
    a.bind(skip);
}

std::string short_expression(const std::string& e) {
    return e.size() <= 60 ? e : e.substr(0, 57) + "...";
}

}  // namespace

std::vector<bpf_insn> build_xdp_program(const compiled_filter& filter, const xdp_program_spec& spec) {
    assembler a;
    a.append(translate(filter, {.frags = spec.frags, .indirect_by_helper = spec.indirect_by_helper}));
    // Here w0 = k and r6 = ctx (the fragment's contract).
    auto no_match = a.new_label();
    auto meta_failed = a.new_label();
    auto matched = a.new_label();
    a.jump_imm(BPF_JMP32, BPF_JEQ, r0, 0, no_match);
    if (spec.metadata) {
        a.mov32_reg(r7, r0);
        a.mov64_reg(r1, r6);
        a.mov64_imm(r2, -int32_t(sizeof(xcap_meta)));
        a.call(BPF_FUNC_xdp_adjust_meta);
        a.jump_imm(BPF_JMP, BPF_JNE, r0, 0, meta_failed);
        a.load(BPF_W, r2, r6, offsetof(xdp_md, data_meta));
        a.load(BPF_W, r3, r6, offsetof(xdp_md, data));
        a.mov64_reg(r1, r2);
        a.alu64_imm(BPF_ADD, r1, sizeof(xcap_meta));
        a.jump_reg(BPF_JMP, BPF_JGT, r1, r3, meta_failed);
        // cap = k when it cuts below the snaplen, else 0 ("no cap").
        auto keep = a.new_label();
        a.mov32_reg(r1, r7);
        a.jump_imm(BPF_JMP32, BPF_JLT, r7, int32_t(filter.snaplen), keep);
        a.mov32_imm(r1, 0);
        a.bind(keep);
        a.store_imm(BPF_DW, r2, offsetof(xcap_meta, rx_ts_ns), 0);
        a.store_imm(BPF_W, r2, offsetof(xcap_meta, rx_queue), 0);
        a.store_imm(BPF_W, r2, offsetof(xcap_meta, magic), int32_t(XCAP_META_MAGIC));
        a.store(BPF_W, r2, offsetof(xcap_meta, cap), r1);
        a.store_imm(BPF_W, r2, offsetof(xcap_meta, reserved), 0);
        a.store_imm(BPF_DW, r2, offsetof(xcap_meta, nic_ts_ns), 0);
        a.ja(matched);

        a.bind(meta_failed);
        count(a, spec.counters_map_fd, offsetof(filter_counters, no_metadata));
    }

    a.bind(matched);
    if (spec.exit == filter_exit::tail_call) {
        a.mov64_reg(r1, r6);
        a.load_map_fd(r2, spec.prog_array_fd);
        a.mov32_imm(r3, 0);
        a.call(BPF_FUNC_tail_call);
        // Only reached when slot 0 is empty (or the tail-call limit hit).
    }
    a.mov32_imm(r0, XDP_PASS);
    a.exit();

    a.bind(no_match);
    count(a, spec.counters_map_fd, offsetof(filter_counters, rejected));
    if (spec.exit == filter_exit::tail_call && spec.reject_next) {
        a.mov64_reg(r1, r6);
        a.load_map_fd(r2, spec.prog_array_fd);
        a.mov32_imm(r3, 1);
        a.call(BPF_FUNC_tail_call);
    }
    a.mov32_imm(r0, spec.exit == filter_exit::tail_call ? XDP_PASS : XDP_DROP);
    a.exit();
    return a.finish();
}

bool xdp_helper_allowed(int helper) {
    // r1 is the context at entry, as every XDP helper takes it first; r2 a
    // delta for those that take one (adjust_meta's: a whole xcap_meta).
    assembler a;
    a.mov64_imm(r2, -int32_t(sizeof(xcap_meta)));
    a.call(helper);
    a.mov32_imm(r0, XDP_PASS);
    a.exit();
    const auto insns = a.finish();
    LIBBPF_OPTS(bpf_prog_load_opts, opts);
    opts.expected_attach_type = BPF_XDP;
    unique_fd fd(bpf_prog_load(BPF_PROG_TYPE_XDP, "xcap_probe", "Dual BSD/GPL", insns.data(), insns.size(), &opts));
    return fd || errno != EINVAL;
}

bool xdp_metadata_allowed() {
    static const bool allowed = [] {
        if (const char* no = getenv("XCAP_TEST_NO_XDP_METADATA"); no && std::strcmp(no, "1") == 0) {
            return false;
        }
        return xdp_helper_allowed(BPF_FUNC_xdp_adjust_meta);
    }();
    return allowed;
}

bool xdp_buff_len_allowed() {
    static const bool allowed = xdp_helper_allowed(BPF_FUNC_xdp_get_buff_len);
    return allowed;
}

unique_fd load_xdp_program(const std::vector<bpf_insn>& insns, bool frags, const std::string& what, bool verbose) {
    LIBBPF_OPTS(bpf_prog_load_opts, opts);
    opts.prog_flags = frags ? BPF_F_XDP_HAS_FRAGS : 0;
    // As libbpf loads SEC("xdp") programs, xcap_rx among them: the kernel
    // lets a tail call through only between programs of the same attach type.
    opts.expected_attach_type = BPF_XDP;
    int fd = bpf_prog_load(BPF_PROG_TYPE_XDP, "xcap_filter", "Dual BSD/GPL", insns.data(), insns.size(), &opts);
    if (fd >= 0) {
        return unique_fd(fd);
    }
    int err = errno;
    std::string log;
    if (verbose) {
        // Again with the log: asking for it on every load would cost the
        // verifier's formatting each time. Since 6.4 the kernel keeps the
        // log's end (where the error is) when it does not fit.
        std::vector<char> buf(4 << 20);
        opts.log_buf = buf.data();
        opts.log_size = uint32_t(buf.size());
        opts.log_level = 1;
        int again = bpf_prog_load(BPF_PROG_TYPE_XDP, "xcap_filter", "Dual BSD/GPL", insns.data(), insns.size(), &opts);
        if (again >= 0) {
            close(again);  // failed once, loaded the second time: report the first failure
        }
        log.assign(buf.data(), strnlen(buf.data(), buf.size()));
        while (!log.empty() && log.back() == '\n') {
            log.pop_back();
        }
    }
    failure_kind kind = err == EPERM ? failure_kind::permission : failure_kind::unsupported;
    std::string hint;
    if (err == EPERM) {
        hint = "loading XDP programs needs CAP_BPF (or CAP_SYS_ADMIN)";
    } else if (err == E2BIG) {
        hint = "the filter is too complex for the kernel's verifier (it walks at most a million instructions)";
    } else {
        hint = "the kernel's verifier refused the program";
    }
    if (!log.empty()) {
        hint += "; its log follows:\n" + log;
    } else if (!verbose && err != EPERM) {
        hint += "; -v shows its log";
    }
    throw filter_load_error(kind, err, "loading " + what + " (" + std::to_string(insns.size()) + " instructions)",
                            std::move(hint), std::move(log));
}

namespace {

// An array map of the filter's, keyed by a u32.
unique_fd create_map(bpf_map_type type, const char* name, uint32_t value_size, uint32_t entries,
                     const std::string& what) {
    unique_fd fd(bpf_map_create(type, name, sizeof(uint32_t), value_size, entries, nullptr));
    if (!fd) {
        int err = errno;
        throw failure(err == EPERM ? failure_kind::permission : failure_kind::unsupported, err,
                      "creating the filter's " + what + " map");
    }
    return fd;
}

}  // namespace

xdp_filter_program::xdp_filter_program(const compiled_filter& filter, const xdp_filter_options& options)
    : _options(options) {
    _counters = create_map(BPF_MAP_TYPE_PERCPU_ARRAY, "xcap_filt_ctr", sizeof(filter_counters), 1, "counter");
    xdp_program_spec spec{.exit = options.exit,
                          .frags = options.frags,
                          .metadata = xdp_metadata_allowed(),
                          .counters_map_fd = _counters.get()};
    if (options.exit == filter_exit::tail_call) {
        spec.reject_next = options.reject_next;
        _prog_array = create_map(BPF_MAP_TYPE_PROG_ARRAY, "xcap_filt_next", sizeof(uint32_t),
                                 options.reject_next ? 2 : 1, "tail-call");
        spec.prog_array_fd = _prog_array.get();
    }
    const std::string what = "the XDP filter '" + short_expression(filter.expression) + "'";
    // Loops verify far faster with the helper (see translate_options).
    spec.indirect_by_helper = has_backward_jumps(filter);
    auto insns = build_xdp_program(filter, spec);
    try {
        _prog = load_xdp_program(insns, options.frags, what, options.verbose);
    } catch (const filter_load_error& e) {
        // Without CAP_PERFMON the verifier refuses variable packet offsets
        // (EACCES); the helper takes any offset. Decided by the verifier
        // itself rather than by guessing from capabilities.
        if (e.code() != EACCES || spec.indirect_by_helper || !has_indirect_loads(filter)) {
            throw;
        }
        spec.indirect_by_helper = true;
        insns = build_xdp_program(filter, spec);
        _prog = load_xdp_program(insns, options.frags, what, options.verbose);
    }
    _indirect_by_helper = spec.indirect_by_helper;
    _instructions = insns.size();
}

uint32_t xdp_filter_program::id() const {
    bpf_prog_info info{};
    uint32_t len = sizeof(info);
    if (bpf_obj_get_info_by_fd(_prog.get(), &info, &len) != 0) {
        return 0;
    }
    return info.id;
}

void xdp_filter_program::set_reject_next(int prog_fd) {
    if (!_options.reject_next) {
        throw failure(failure_kind::usage, EINVAL, "the filter program was built without a tail call on rejection");
    }
    set_slot(1, prog_fd);
}

void xdp_filter_program::set_next(int prog_fd) { set_slot(0, prog_fd); }

void xdp_filter_program::set_slot(uint32_t key, int prog_fd) {
    if (!_prog_array) {
        throw failure(failure_kind::usage, EINVAL, "the filter program was built without a tail call");
    }
    uint32_t value = uint32_t(prog_fd);
    if (bpf_map_update_elem(_prog_array.get(), &key, &value, BPF_ANY) != 0) {
        int err = errno;
        // EINVAL: not an XDP program, or its frags setting differs.
        throw failure(failure_kind::unsupported, err, "chaining the filter to the capture program",
                          "both must be XDP programs with the same frags setting");
    }
}

void xdp_filter_program::clear_next() {
    if (!_prog_array) {
        return;
    }
    uint32_t key = 0;
    bpf_map_delete_elem(_prog_array.get(), &key);  // ENOENT when already empty
}

filter_counters xdp_filter_program::counters() const {
    int cpus = libbpf_num_possible_cpus();
    filter_counters sum;
    if (cpus <= 0) {
        return sum;
    }
    std::vector<filter_counters> per_cpu(static_cast<size_t>(cpus));
    uint32_t key = 0;
    if (bpf_map_lookup_elem(_counters.get(), &key, per_cpu.data()) != 0) {
        return sum;
    }
    for (const auto& c : per_cpu) {
        sum.rejected += c.rejected;
        sum.no_metadata += c.no_metadata;
    }
    return sum;
}

}  // namespace xcap
