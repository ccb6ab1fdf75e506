// Writer throughput: pcap and pcapng records of 64, 512 and 1500 bytes into
// memory (an output whose fd is /dev/null, so only formatting and copying
// count) and into a file on tmpfs (/dev/shm: the page cache, as the
// end-to-end harness's captures), each beside a plain memcpy of the same
// packet bytes through the same 1 MiB buffer: the physical reference.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <vector>

#include "pcap/output.h"
#include "pcap/pcap_writer.h"
#include "pcap/pcapng_writer.h"

using namespace xcap;

namespace {

constexpr size_t batch = 1024;  // packets per timed iteration

std::vector<std::vector<uint8_t>> packets(size_t size) {
    std::vector<std::vector<uint8_t>> p(batch, std::vector<uint8_t>(size));
    for (size_t i = 0; i < batch; ++i) {
        std::memset(p[i].data(), int(i), size);
    }
    return p;
}

int open_sink(bool file) {
    if (!file) {
        return open("/dev/null", O_WRONLY);
    }
    // tmpfs, where the end-to-end harness writes every tool's capture.
    char tmpl[] = "/dev/shm/xcap-bench-XXXXXX";
    int fd = mkstemp(tmpl);
    unlink(tmpl);
    return fd;
}

void finish(benchmark::State& state, size_t size, int fd) {
    state.SetItemsProcessed(int64_t(state.iterations()) * int64_t(batch));
    state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(batch) * int64_t(size));
    close(fd);
}

// Runs `write(out, packet)` over a batch of packets per iteration, into
// memory (/dev/null) or into a file that is cut back to nothing every 256 MiB
// (untimed) so the page cache does not fill.
template <typename Setup>
void run(benchmark::State& state, Setup setup) {
    const size_t size = size_t(state.range(0));
    const bool file = state.range(1);
    auto pkts = packets(size);
    int fd = open_sink(file);
    {
        output out(fd, "sink");
        auto write = setup(out);
        uint64_t cut_at = 0;  // bytes_written() at the last cut: counted from there
        for (auto _ : state) {
            for (const auto& p : pkts) {
                write(p.data(), uint32_t(size));
            }
            if (file && out.bytes_written() - cut_at > (256u << 20)) {
                state.PauseTiming();
                out.flush();
                ftruncate(fd, 0);
                lseek(fd, 0, SEEK_SET);
                cut_at = out.bytes_written();
                state.ResumeTiming();
            }
        }
    }
    finish(state, size, fd);
}

// The same bytes copied into the same buffer: the physical reference.
void BM_memcpy(benchmark::State& state) {
    run(state, [](output& out) { return [&out](const uint8_t* p, uint32_t n) { out.append(p, n); }; });
}

void BM_pcap(benchmark::State& state) {
    std::unique_ptr<pcap_writer> w;
    uint64_t ts = 1'790'000'000'000'000'000ull;
    run(state, [&](output& out) {
        w = std::make_unique<pcap_writer>(out, max_snaplen, true);
        return [&](const uint8_t* p, uint32_t n) { w->write(ts++, p, n); };
    });
}

void BM_pcapng(benchmark::State& state) {
    std::unique_ptr<pcapng_writer> w;
    packet_meta m;
    m.queue = 1;
    m.xdp_verdict = 4;
    uint64_t ts = 1'790'000'000'000'000'000ull;
    run(state, [&](output& out) {
        interface_description iface;
        iface.name = "bench0";
        w = std::make_unique<pcapng_writer>(out, section_description{"cpu", "os", "xcap"},
                                            std::vector<interface_description>{iface}, true);
        return [&](const uint8_t* p, uint32_t n) {
            m.packet_id++;
            w->write(ts++, p, n, m);
        };
    });
}

void sizes(benchmark::internal::Benchmark* b) {
    b->ArgNames({"bytes", "file"});
    for (int file : {0, 1}) {
        for (int size : {64, 512, 1500}) {
            b->Args({size, file});
        }
    }
}

}  // namespace

BENCHMARK(BM_memcpy)->Apply(sizes);
BENCHMARK(BM_pcap)->Apply(sizes);
BENCHMARK(BM_pcapng)->Apply(sizes);

BENCHMARK_MAIN();
