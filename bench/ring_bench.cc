// The capture hot path without a kernel: the AF_XDP source's per-batch work
// (peek the RX ring, read each frame's stamp, release the descriptors and put
// the frames back on the fill ring) on rings in plain memory, beside a memcpy
// of the descriptor bytes the batch moves: the physical reference.
#include <benchmark/benchmark.h>
#include <xdp/xsk.h>

#include <cstring>
#include <vector>

#include "sources/xsk_source.h"
#include "plain_rings.h"

using namespace xcap;
using xcap::test::plain_queue;

namespace {

constexpr uint32_t ring_size = 16384;

// Each iteration takes a full ring of 64-byte packets through the source in
// batches of the given size; the "kernel" side (filling the RX ring from the
// fill ring) runs untimed between iterations, so its cost and the pause are
// spread over 16k packets.
void BM_xsk_source_batch(benchmark::State& state) {
    const size_t batch = size_t(state.range(0));
    plain_queue kernel(ring_size);
    xsk_source source(xsk_source::rings{&kernel.rx, &kernel.fill, kernel.area(), kernel.frame_mask(), 0}, nullptr);
    std::vector<record_ref> recs(batch);
    for (auto _ : state) {
        state.PauseTiming();
        for (uint32_t i = 0; i < ring_size; ++i) {
            kernel.deliver(i, uint8_t(i), 64);
        }
        state.ResumeTiming();
        for (size_t done = 0; done < ring_size;) {
            size_t n = source.peek(recs.data(), batch);
            benchmark::DoNotOptimize(recs.data());
            source.release(recs.data(), n);
            done += n;
        }
    }
    state.SetItemsProcessed(int64_t(state.iterations() * ring_size));
}

// The descriptor bytes of a batch copied twice (RX ring → records, and the
// addresses back to the fill ring): what the batch moves, as plain copies.
void BM_xsk_source_batch_memcpy(benchmark::State& state) {
    const size_t batch = size_t(state.range(0));
    std::vector<xdp_desc> ring(batch, xdp_desc{4096, 64, 0});
    std::vector<xdp_desc> out(batch);
    std::vector<uint64_t> fill(batch);
    for (auto _ : state) {
        std::memcpy(out.data(), ring.data(), batch * sizeof(xdp_desc));
        for (size_t i = 0; i < batch; ++i) {
            fill[i] = out[i].addr;
        }
        benchmark::ClobberMemory();
    }
    state.SetItemsProcessed(int64_t(state.iterations() * batch));
}

}  // namespace

BENCHMARK(BM_xsk_source_batch)->Arg(16)->Arg(64)->Arg(256);
BENCHMARK(BM_xsk_source_batch_memcpy)->Arg(16)->Arg(64)->Arg(256);

BENCHMARK_MAIN();
