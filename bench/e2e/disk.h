#pragma once
// Phase "disk": capture to this machine's disk instead of tmpfs. 1514-byte
// frames at 0.6 Mpps (8,000,000 of them: 12 GB) and 64-byte frames at
// 1.2 Mpps, for xcap (direct I/O, its default), xcap --buffer-len 0 (the
// write() path it had before, through the page cache), xcap --buffer-len
// 2g (memory for a disk a little slower than the traffic), tcpdump and
// netsniff-ng, all writing into the same folder on a disk (not tmpfs), the
// page cache dropped before each run, each file deleted after it. The
// disk's own direct-write figure (dd oflag=direct bs=4M) is measured in the
// same run, before the captures; then xcap three times more at 64 B,
// 5,000,000 frames at the generator's top rate (bursts, not a paced
// stream). Then (not with --quick) a profile of
// xcap's threads: 1514 B on both paths, and 64 B on the direct path, where
// the time per packet goes.
//
// Phase "rotate": the same folder, 1514 B at 0.3 Mpps (about 460 MB/s,
// well under the disk's rate) written as -C 100 files (a new file every
// 0.2 s) by xcap (direct I/O, with the default pool and with 1 GiB),
// xcap --buffer-len 0 and tcpdump, and by xcap without -C for the rate's
// own figure: what rotating costs.
#include "harness.h"

namespace xcap::e2e {

class disk_bench : public scenario {
public:
    std::vector<std::string> phases() const override { return {"disk", "rotate"}; }
    void run(harness& h) override;
    int section() const override { return 37; }
    void markdown(std::ostream& md, const harness& h) const override;
    void json(std::ostream& js, const harness& h) const override;

private:
    std::string _dir;
    std::string _why_not;      // the phase could not run: why
    double _dd_mb_s = 0;       // the disk's direct write rate, MB/s
    std::string _dd_load;
    std::vector<run_result> _runs;
    std::vector<run_result> _rotations;
    void measure_disk(harness& h);
    void rotate(harness& h);
    void rotate_markdown(std::ostream& md) const;
    // perf record -e cpu-clock of xcap: each thread's share, and the
    // report's file name.
    struct profile {
        std::string label, file;
        uint32_t size;
        double mpps;
        uint64_t count;
        std::vector<std::pair<std::string, double>> top;  // "thread: symbol", percent
    };
    std::vector<profile> _profiles;
    void keep_profile(const harness& h, const run_spec& s, const std::string& file);
    void profile_markdown(std::ostream& md) const;
    std::string files() const override;
};

}  // namespace xcap::e2e
