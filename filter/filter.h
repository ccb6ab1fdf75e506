#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/fd.h"

// tcpdump filter expressions run inside XDP.
//
// The path is: expression → classic BPF (libpcap's pcap_compile, optimised,
// as for a DLT_EN10MB capture) → eBPF instructions (filter/translate.h) →
// an XDP program loaded with bpf_prog_load (xdp_filter_program below). No
// clang and no freplace at run time: xcap emits the instructions itself.
//
// This header is free of <pcap/pcap.h> and <linux/bpf.h> (both define a
// `struct bpf_insn`, and they differ), so any file can include it.
//
// Ownership: compile_filter returns a value; xdp_filter_program owns its
// program fd and its maps and closes them on destruction.
// Threading: compile_filter and dump_classic may be called from any thread
// (libpcap's compiler and bpf_image are serialised behind one mutex). An
// xdp_filter_program is built and destroyed on one thread; its const
// members (fd(), counters()) may be called from any thread.

namespace xcap {

// One classic BPF instruction; the layout of libpcap's `struct bpf_insn` and
// the kernel's `struct sock_filter`.
struct classic_insn {
    uint16_t code;
    uint8_t jt;
    uint8_t jf;
    uint32_t k;
};

struct compiled_filter {
    std::string expression;
    std::vector<classic_insn> classic;
    // The snaplen given to pcap_compile. A match with result k caps the
    // packet at k bytes when k < snaplen; k >= snaplen means "no cap".
    uint32_t snaplen = 0;
};

// Compiles `expression` as tcpdump would for an Ethernet capture with this
// snaplen (0 means tcpdump's default, 262144), optimised, netmask unknown.
// A bad expression throws failure(failure_kind::usage) whose message
// carries the expression and libpcap's own text.
compiled_filter compile_filter(const std::string& expression, uint32_t snaplen);

// The classic program as `tcpdump -d` prints it, one instruction per line,
// each line ending in '\n'.
std::string dump_classic(const compiled_filter& filter);

// What the program does after the filter has run.
enum class filter_exit {
    // The capture entry point. Match with result k: write struct xcap_meta
    // (magic, cap) into the metadata area, then tail-call slot 0 of the
    // program's PROG_ARRAY (set_next); XDP_PASS if that slot is empty.
    // No match: count it (filter_counters::rejected), XDP_PASS.
    tail_call,
    // For tests and benchmarks: the same metadata on a match, then XDP_PASS;
    // no match: count it, XDP_DROP. No tail call, no PROG_ARRAY.
    verdict,
};

struct xdp_filter_options {
    filter_exit exit = filter_exit::tail_call;
    // Load with BPF_F_XDP_HAS_FRAGS. A tail call only reaches a program whose
    // setting is the same, so this must match the capture program's. With
    // frags, loads beyond the first buffer go through bpf_xdp_load_bytes and
    // `len` counts every fragment.
    bool frags = false;
    // Put the kernel verifier's log into the error when loading fails.
    bool verbose = false;
    // tail_call only: a packet the filter rejects tail-calls slot 1 of the
    // PROG_ARRAY (set_reject_next) before it falls back to XDP_PASS, so a
    // program can undo what an entry program did to the frame.
    bool reject_next = false;
};

// Whether the kernel lets XDP programs call bpf_xdp_adjust_meta. A
// hardened kernel may refuse the helper to XDP at load time ("program of
// this type cannot use helper"), which libbpf's helper probe mistakes for
// support. Found once per process by loading a four-instruction program; a
// load refused for want of privilege counts as allowed (the real load then
// says what is missing). XCAP_TEST_NO_XDP_METADATA=1 in the environment
// makes it false, so that tests can run the fallback on any kernel.
// Without it the filter leaves no metadata and xcap_rx puts its time stamp
// in front of the frame (bpf/xcap_rx.bpf.c, xcap_meta_in_frame).
bool xdp_metadata_allowed();

// Whether the kernel lets an XDP program call `helper` (a BPF_FUNC_
// number; linux/bpf.h clashes with libpcap's bpf.h, so not included here),
// found by loading a program that calls it with the context in r1 and -32
// in r2: a load the verifier refuses (EINVAL: a helper it does not know, or
// one refused to XDP) is a no, any other outcome a yes, as above. libbpf's
// own probe takes "program of this type cannot use helper" for support.
bool xdp_helper_allowed(int helper);

// bpf_xdp_get_buff_len (Linux 5.18): xcap_rx reads a multi-buffer packet's
// whole length with it, and only the first buffer's where it is missing.
// Probed once per process with xdp_helper_allowed.
bool xdp_buff_len_allowed();

// Sums over CPUs of the program's per-CPU counters.
struct filter_counters {
    uint64_t rejected = 0;     // packets the filter did not match (passed on to the stack)
    uint64_t no_metadata = 0;  // matches whose metadata the kernel refused (bpf_xdp_adjust_meta
                               // failed): they go on without the filter's cap. Where
                               // xdp_metadata_allowed() is false the program has no
                               // metadata and no cap at all (a tcpdump expression's
                               // only non-zero result is the snaplen, so no cap).
};

// The filter is longer than one XDP program can run (a jump would span more
// than eBPF's 16-bit offset). A usage failure (exit 2) where nothing else
// can run it; a capture runs it in user space instead (filter/user_filter.h).
class filter_too_long : public failure {
public:
    explicit filter_too_long(std::string message) : failure(failure_kind::usage, std::move(message)) {}
};

// Loading a filter program failed. A failure whose kind is permission
// (EPERM: a capability is missing) or unsupported (the kernel refused it);
// with xdp_filter_options::verbose the hint carries the verifier's log.
class filter_load_error : public failure {
public:
    filter_load_error(failure_kind kind, int err, const std::string& what, std::string hint, std::string log)
        : failure(kind, err, what, std::move(hint)), _log(std::move(log)) {}
    const std::string& verifier_log() const noexcept { return _log; }

private:
    std::string _log;
};

// The XDP program that runs a compiled filter (see filter_exit). Loading
// throws filter_load_error (a failure: permission for EPERM, unsupported
// otherwise) or failure when the filter cannot mean anything in XDP
// (e.g. a Linux ancillary load with no XDP equivalent).
class xdp_filter_program {
public:
    explicit xdp_filter_program(const compiled_filter& filter, const xdp_filter_options& options = {});

    int fd() const { return _prog.get(); }
    uint32_t id() const;
    const xdp_filter_options& options() const { return _options; }
    // eBPF instructions loaded (LD_IMM64 counts as two).
    size_t instruction_count() const { return _instructions; }
    // True when indirect loads go through bpf_xdp_load_bytes: the verifier
    // refused variable packet offsets (no CAP_PERFMON), or the filter loops.
    bool indirect_loads_by_helper() const { return _indirect_by_helper; }

    // The program a match tail-calls (tail_call only): slot 0 of the
    // program's own PROG_ARRAY. It must be an XDP program with the same frags
    // setting. Throws failure.
    void set_next(int prog_fd);
    // The program a rejected packet tail-calls (reject_next only): slot 1,
    // with the same rules as set_next. Throws failure.
    void set_reject_next(int prog_fd);
    // Empties slot 0: matches then go on with XDP_PASS. Idempotent.
    void clear_next();
    int prog_array_fd() const { return _prog_array.get(); }

    filter_counters counters() const;

private:
    void set_slot(uint32_t key, int prog_fd);

    xdp_filter_options _options;
    unique_fd _counters;
    unique_fd _prog_array;
    unique_fd _prog;
    size_t _instructions = 0;
    bool _indirect_by_helper = false;
};

}  // namespace xcap
