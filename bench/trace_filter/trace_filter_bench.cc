// What a filter expression costs `xcap trace` per packet, in the kernel, by
// BPF_PROG_RUN's own clock (the average over `repeat` runs): the recorders'
// classic BPF interpreter (bpf/xcap_cbpf.bpf.h, in tests/common/cbpf_run.bpf.c:
// copy the first snaplen bytes into per-CPU scratch, then bpf_loop over the
// classic program) beside the same expression translated to eBPF
// (filter/translate.h, the filter alone in an XDP program, as capture runs
// it), for no filter, 1, 5 and 20 terms (bench/filter_bench.cc's
// expressions), over the same mixed frames (60 to 1514 bytes). The
// interpreter runs at trace's default snaplen (16384: whole frames are
// copied) and at -s 128 (the copy bounded). Index 0 is an XDP program that
// only returns: what BPF_PROG_RUN itself costs per run, to subtract.
//
// Both sides must agree with each other on every frame before anything is
// timed.
#include <benchmark/benchmark.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include <cstdio>
#include <cstring>
#include <iterator>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "cbpf_run.skel.h"
#include "filter/assembler.h"
#include "filter/filter.h"
#include "filter/interpreter.h"
#include "filter/translate.h"
#include "bench/filter_bench_common.h"
#include "frames.h"

using namespace xcap;

namespace {

constexpr int repeat = 20000;      // runs per BPF_PROG_RUN call, one frame
constexpr uint32_t packets = 120;  // distinct frames, each timed once per repetition

const auto& expressions = bench_expressions;
const auto& labels = bench_labels;

struct interpreter {
    cbpf_run_bpf* skel = nullptr;
    explicit interpreter(const compiled_filter* f) {
        skel = cbpf_run_bpf__open();
        if (!skel) {
            throw std::runtime_error("cannot open the interpreter's test program");
        }
        std::optional<interpreter_program> p;
        if (f) {
            p = prepare_interpreter(*f, "in the benchmark");
            skel->rodata->xcap_cbpf_len = uint32_t(p->insns.size());
            skel->rodata->xcap_cbpf_steps = p->steps;
        }
        if (int err = cbpf_run_bpf__load(skel); err != 0) {
            cbpf_run_bpf__destroy(skel);
            throw std::runtime_error(std::string("loading the interpreter: ") + std::strerror(-err));
        }
        if (p) {
            write_interpreter_program(bpf_map__fd(skel->maps.xcap_cbpf_prog), *p);
        }
    }
    ~interpreter() { cbpf_run_bpf__destroy(skel); }
    int fd() const { return bpf_program__fd(skel->progs.cbpf_run); }
};

struct sides {
    std::vector<std::vector<uint8_t>> frames;
    std::vector<unique_fd> translated;  // [0]: the empty program
    std::vector<std::unique_ptr<interpreter>> interpreted;
};

sides& setup() {
    static sides s = [] {
        sides s;
        for (uint32_t seq = 0; seq < packets * 5; seq += 5) {
            s.frames.push_back(test::build_frame(seq));
        }
        using namespace ebpf;
        s.translated.push_back(load_xdp_program({mov64_imm(0, XDP_PASS), exit_insn()}, false, "empty", true));
        s.interpreted.push_back(nullptr);
        for (size_t which = 1; which < std::size(expressions); ++which) {
            auto f = compile_filter(expressions[which], 16384);
            s.translated.push_back(load_xdp_program(filter_only(f), false, "the filter alone", true));
            // "no filter": the interpreter is not there at all (length 0).
            s.interpreted.push_back(std::make_unique<interpreter>(which == 1 ? nullptr : &f));
            size_t matches = 0;
            for (uint32_t i = 0; i < packets; ++i) {
                bool t = prog_run(s.translated.back().get(), s.frames[i], 1, nullptr) == XDP_PASS;
                bool in = prog_run(s.interpreted.back()->fd(), s.frames[i], 1, nullptr) == XDP_PASS;
                if (t != in) {
                    throw std::runtime_error(std::string("verdicts differ on '") + expressions[which] + "', frame " +
                                             std::to_string(i));
                }
                matches += t;
            }
            std::fprintf(stderr, "%-9s %3zu classic instructions, %zu/%u frames match\n", labels[which],
                         f.classic.size(), matches, packets);
        }
        return s;
    }();
    return s;
}

enum class side { translated, interpreted };

void bench(benchmark::State& state, side which_side) {
    const size_t which = size_t(state.range(0));
    const uint32_t snaplen = uint32_t(state.range(1));
    sides* s;
    try {
        s = &setup();
    } catch (const std::exception& e) {
        state.SkipWithError(e.what());
        return;
    }
    int fd = s->translated[which].get();
    if (which_side == side::interpreted && which > 0) {
        s->interpreted[which]->skel->data->snaplen = snaplen;
        fd = s->interpreted[which]->fd();
    }
    uint32_t i = 0;
    double total = 0;
    for (auto _ : state) {
        double ns = 0;
        prog_run(fd, s->frames[i], repeat, &ns);
        state.SetIterationTime(ns * 1e-9);
        total += ns;
        i = (i + 1) % packets;
    }
    state.SetLabel(std::string(labels[which]) + (which_side == side::interpreted && which > 0
                                                     ? ", -s " + std::to_string(snaplen)
                                                     : std::string()));
    state.counters["ns_per_packet"] = total / double(state.iterations());
}

}  // namespace

#define XCAP_TRACE_FILTER_BENCH(name, s, ...)                                                        \
    BENCHMARK_CAPTURE(bench, name, s)                                                                \
        ->ArgsProduct({{0, 1, 2, 3, 4}, {__VA_ARGS__}})                                               \
        ->UseManualTime()                                                                            \
        ->Iterations(packets)                                                                        \
        ->Repetitions(3)                                                                             \
        ->ReportAggregatesOnly(true)
XCAP_TRACE_FILTER_BENCH(translated, side::translated, 16384);
XCAP_TRACE_FILTER_BENCH(interpreted, side::interpreted, 16384, 128);

BENCHMARK_MAIN();
