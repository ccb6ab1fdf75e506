// The capture hot path without a kernel: the SPSC hand-off between an RX
// worker and the writer (records/s by batch size, two threads), and the RX
// worker's per-batch ring work on plain memory (peek/release on an RX ring,
// reserve/submit on a fill ring, the hand-off push). Each beside a memcpy of
// the same descriptor bytes: the physical reference.
#include <benchmark/benchmark.h>
#include <xdp/xsk.h>

#include <atomic>
#include <cstring>
#include <thread>
#include <vector>

#include "capture/channel.h"

using namespace xcap;

namespace {

constexpr size_t ring_size = 16384;

// One ring's shared part, laid out as the kernel maps it: producer,
// consumer, flags, then the entries.
template <typename Entry>
struct plain_ring {
    alignas(64) uint32_t producer = 0;
    alignas(64) uint32_t consumer = 0;
    uint32_t flags = 0;
    std::vector<Entry> entries = std::vector<Entry>(ring_size);
};

template <typename Ring, typename Entry>
void wire(Ring& r, plain_ring<Entry>& mem, bool producer_side) {
    std::memset(&r, 0, sizeof(r));
    r.mask = ring_size - 1;
    r.size = ring_size;
    r.producer = &mem.producer;
    r.consumer = &mem.consumer;
    r.flags = &mem.flags;
    r.ring = mem.entries.data();
    r.cached_prod = mem.producer;
    r.cached_cons = mem.consumer + (producer_side ? ring_size : 0);
}

// Two threads: this one pushes `batch` records at a time, another pops them.
void BM_handoff(benchmark::State& state) {
    const size_t batch = size_t(state.range(0));
    boost::lockfree::spsc_queue<rx_desc> q(ring_size);
    std::atomic<bool> stop{false};
    std::thread consumer([&] {
        rx_desc buf[256];
        while (!stop.load(std::memory_order_relaxed)) {
            q.pop(buf, 256);
        }
    });
    std::vector<rx_desc> descs(batch, rx_desc{4096, 64, 0});
    for (auto _ : state) {
        size_t done = 0;
        while (done < batch) {
            done += q.push(descs.data() + done, batch - done);
        }
    }
    stop = true;
    consumer.join();
    state.SetItemsProcessed(int64_t(state.iterations() * batch));
    state.SetBytesProcessed(int64_t(state.iterations() * batch * sizeof(rx_desc)));
}

// The same records copied between two buffers in batches: the reference.
void BM_handoff_memcpy(benchmark::State& state) {
    const size_t batch = size_t(state.range(0));
    std::vector<rx_desc> from(batch, rx_desc{4096, 64, 0}), to(batch);
    for (auto _ : state) {
        std::memcpy(to.data(), from.data(), batch * sizeof(rx_desc));
        benchmark::DoNotOptimize(to.data());
        benchmark::ClobberMemory();
    }
    state.SetItemsProcessed(int64_t(state.iterations() * batch));
    state.SetBytesProcessed(int64_t(state.iterations() * batch * sizeof(rx_desc)));
}

// RX worker batches, as run_rx_worker does them, on rings in plain memory.
// Each iteration processes a full ring of descriptors in batches of the
// given size; the "kernel" side (filling the RX ring, draining the fill
// ring) and the writer's side (draining the hand-off) run untimed between
// iterations, so their cost and the pause itself are spread over 16k packets.
void BM_rx_batch(benchmark::State& state) {
    const uint32_t batch = uint32_t(state.range(0));
    plain_ring<xdp_desc> rx_mem;
    plain_ring<uint64_t> fill_mem;
    xsk_ring_cons rx;
    xsk_ring_prod fill;
    wire(rx, rx_mem, false);
    wire(fill, fill_mem, true);
    boost::lockfree::spsc_queue<rx_desc> handoff(ring_size);
    std::vector<rx_desc> sink(ring_size);
    rx_desc descs[256];
    for (auto _ : state) {
        state.PauseTiming();
        for (uint32_t i = 0; i < ring_size; ++i) {
            rx_mem.entries[(rx_mem.producer + i) & (ring_size - 1)] = xdp_desc{uint64_t(i) * 4096 + 256, 64, 0};
        }
        __atomic_store_n(&rx_mem.producer, rx_mem.producer + uint32_t(ring_size), __ATOMIC_RELEASE);
        __atomic_store_n(&fill_mem.consumer, fill_mem.producer, __ATOMIC_RELEASE);
        handoff.pop(sink.data(), ring_size);
        state.ResumeTiming();

        for (uint32_t done = 0; done < ring_size;) {
            uint32_t idx = 0;
            uint32_t n = xsk_ring_cons__peek(&rx, batch, &idx);
            for (uint32_t i = 0; i < n; ++i) {
                const xdp_desc* d = xsk_ring_cons__rx_desc(&rx, idx + i);
                descs[i] = rx_desc{d->addr, d->len, 0};
            }
            handoff.push(descs, n);
            xsk_ring_cons__release(&rx, n);
            uint32_t fidx = 0;
            if (xsk_ring_prod__reserve(&fill, n, &fidx) == n) {
                for (uint32_t i = 0; i < n; ++i) {
                    *xsk_ring_prod__fill_addr(&fill, fidx + i) = descs[i].addr & ~uint64_t(4095);
                }
                xsk_ring_prod__submit(&fill, n);
            }
            done += n;
        }
    }
    state.SetItemsProcessed(int64_t(state.iterations() * ring_size));
}

// The descriptor bytes of a batch copied twice (RX ring → hand-off, and the
// addresses back to the fill ring): what the batch moves, as plain copies.
void BM_rx_batch_memcpy(benchmark::State& state) {
    const uint32_t batch = uint32_t(state.range(0));
    std::vector<xdp_desc> ring(batch, xdp_desc{4096, 64, 0});
    std::vector<rx_desc> out(batch);
    std::vector<uint64_t> fill(batch);
    for (auto _ : state) {
        std::memcpy(out.data(), ring.data(), batch * sizeof(xdp_desc));
        std::memcpy(fill.data(), out.data(), batch * sizeof(uint64_t));
        benchmark::ClobberMemory();
    }
    state.SetItemsProcessed(int64_t(state.iterations() * batch));
}

}  // namespace

BENCHMARK(BM_handoff)->Arg(1)->Arg(16)->Arg(64)->Arg(256)->UseRealTime();
BENCHMARK(BM_handoff_memcpy)->Arg(1)->Arg(16)->Arg(64)->Arg(256);
BENCHMARK(BM_rx_batch)->Arg(16)->Arg(64)->Arg(256);
BENCHMARK(BM_rx_batch_memcpy)->Arg(16)->Arg(64)->Arg(256);

BENCHMARK_MAIN();
