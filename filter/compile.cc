// The libpcap side of the filter. This file includes <pcap/pcap.h> and so
// must not include <linux/bpf.h>: both declare a `struct bpf_insn`.
#include <pcap/pcap.h>

#include <cstring>
#include <memory>
#include <mutex>

#include "common/error.h"
#include "filter/filter.h"

namespace xcap {
namespace {

static_assert(sizeof(classic_insn) == sizeof(struct bpf_insn));
static_assert(offsetof(classic_insn, k) == offsetof(struct bpf_insn, k));

constexpr uint32_t tcpdump_default_snaplen = 262144;

// libpcap's compiler was not thread-safe in older releases, and bpf_image()
// formats into a static buffer: one lock covers both.
std::mutex& libpcap_mutex() {
    static std::mutex m;
    return m;
}

struct pcap_closer {
    void operator()(pcap_t* p) const { pcap_close(p); }
};

}  // namespace

compiled_filter compile_filter(const std::string& expression, uint32_t snaplen) {
    if (snaplen == 0) {
        snaplen = tcpdump_default_snaplen;
    }
    if (snaplen > uint32_t(INT32_MAX)) {
        throw failure(failure_kind::usage, "snaplen " + std::to_string(snaplen) + " is out of range for a filter");
    }
    std::lock_guard lock(libpcap_mutex());
    std::unique_ptr<pcap_t, pcap_closer> dead(pcap_open_dead(DLT_EN10MB, int(snaplen)));
    if (!dead) {
        throw std::bad_alloc();
    }
    bpf_program program{};
    // PCAP_NETMASK_UNKNOWN: there is no interface address to take a netmask
    // from; libpcap then refuses `ip broadcast` with its own message.
    if (pcap_compile(dead.get(), &program, expression.c_str(), 1, PCAP_NETMASK_UNKNOWN) != 0) {
        throw failure(failure_kind::usage,
                          "bad filter expression '" + expression + "': " + pcap_geterr(dead.get()),
                          "see pcap-filter(7) for the syntax");
    }
    compiled_filter out;
    out.expression = expression;
    out.snaplen = snaplen;
    out.classic.resize(program.bf_len);
    if (program.bf_len != 0) {
        std::memcpy(out.classic.data(), program.bf_insns, program.bf_len * sizeof(struct bpf_insn));
    }
    pcap_freecode(&program);
    return out;
}

std::string dump_classic(const compiled_filter& filter) {
    std::lock_guard lock(libpcap_mutex());
    std::string out;
    for (size_t i = 0; i < filter.classic.size(); ++i) {
        struct bpf_insn insn;
        std::memcpy(&insn, &filter.classic[i], sizeof(insn));
        // bpf_image takes a non-const pointer in older libpcap headers.
        out += bpf_image(&insn, int(i));
        out += '\n';
    }
    return out;
}

}  // namespace xcap
