// Writer throughput: pcap and pcapng records of 64, 512 and 1500 bytes into
// memory (an output whose fd is /dev/null, so only formatting and copying
// count) and into a file (page cache), each beside a plain memcpy of the same
// bytes into the same kind of buffer: the physical reference.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "output.h"
#include "pcap_writer.h"
#include "pcapng_writer.h"

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
    char tmpl[] = "/tmp/xcap-bench-XXXXXX";
    int fd = mkstemp(tmpl);
    unlink(tmpl);
    return fd;
}

void finish(benchmark::State& state, size_t size, int fd) {
    state.SetItemsProcessed(int64_t(state.iterations()) * int64_t(batch));
    state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(batch) * int64_t(size));
    close(fd);
}

// The same bytes copied into a 4 MiB buffer that is written out when full.
void BM_memcpy(benchmark::State& state) {
    const size_t size = size_t(state.range(0));
    const bool file = state.range(1);
    auto pkts = packets(size);
    int fd = open_sink(file);
    {
        output out(fd, "sink");
        for (auto _ : state) {
            for (const auto& p : pkts) {
                out.append(p.data(), size);
            }
            if (file && out.bytes_written() > (256u << 20)) {
                state.PauseTiming();
                ftruncate(fd, 0);
                lseek(fd, 0, SEEK_SET);
                state.ResumeTiming();
            }
        }
    }
    finish(state, size, fd);
}

void BM_pcap(benchmark::State& state) {
    const size_t size = size_t(state.range(0));
    const bool file = state.range(1);
    auto pkts = packets(size);
    int fd = open_sink(file);
    {
        output out(fd, "sink");
        pcap_writer w(out, max_snaplen, true);
        uint64_t ts = 1'790'000'000'000'000'000ull;
        for (auto _ : state) {
            for (const auto& p : pkts) {
                w.write(ts++, p.data(), uint32_t(size));
            }
            if (file && out.bytes_written() > (256u << 20)) {
                state.PauseTiming();
                ftruncate(fd, 0);
                lseek(fd, 0, SEEK_SET);
                state.ResumeTiming();
            }
        }
    }
    finish(state, size, fd);
}

void BM_pcapng(benchmark::State& state) {
    const size_t size = size_t(state.range(0));
    const bool file = state.range(1);
    auto pkts = packets(size);
    int fd = open_sink(file);
    {
        output out(fd, "sink");
        interface_description iface;
        iface.name = "bench0";
        pcapng_writer w(out, {"cpu", "os", "xcap"}, {iface}, true);
        packet_meta m;
        m.queue = 1;
        m.xdp_verdict = 4;
        uint64_t ts = 1'790'000'000'000'000'000ull;
        for (auto _ : state) {
            for (const auto& p : pkts) {
                m.packet_id++;
                w.write(ts++, p.data(), uint32_t(size), m);
            }
            if (file && out.bytes_written() > (256u << 20)) {
                state.PauseTiming();
                ftruncate(fd, 0);
                lseek(fd, 0, SEEK_SET);
                state.ResumeTiming();
            }
        }
    }
    finish(state, size, fd);
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
