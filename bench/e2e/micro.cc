#include "micro.h"

#include <sys/stat.h>

#include <regex>

namespace xcap::e2e {

namespace {

// The micro-benchmarks' JSON that scripts/bench.sh wrote into the results
// folder just before this run (older files are another run's: left out).
std::string table(const harness& h) {
    std::string rows;
    for (const char* name : {"xcap_writer_bench", "xcap_ring_bench"}) {
        const std::string path = h.out() + "/" + name + ".json";
        struct stat st{};
        if (stat(path.c_str(), &st) != 0 || st.st_mtime < h.wall_start() - 15 * 60) {
            continue;
        }
        const std::string text = read_text(path);
        static const std::regex entry("\"name\": \"([^\"]+)\"[^}]*?\"items_per_second\": ([0-9.eE+-]+)");
        for (auto it = std::sregex_iterator(text.begin(), text.end(), entry); it != std::sregex_iterator(); ++it) {
            rows += fmt("| %s | `%s` | %.1f M/s |\n", name, (*it)[1].str().c_str(), std::stod((*it)[2]) / 1e6);
        }
    }
    if (rows.empty()) {
        return "Not run with this run (scripts/bench.sh runs them first).\n";
    }
    return "Items per second: packets (writer: records into memory, `file:0`, or into a file in the page cache, "
           "`file:1`, beside a plain memcpy of the same bytes; ring: the AF_XDP source's per-batch work on rings "
           "in plain memory, beside a memcpy of the descriptors).\n\n| binary | benchmark | items/s |\n|---|---|---|\n" +
           rows;
}

}  // namespace

void micro_table::markdown(std::ostream& md, const harness& h) const {
    md << "\n## Micro-benchmarks (Google Benchmark, run by scripts/bench.sh just before)\n\n" << table(h);
}

}  // namespace xcap::e2e
