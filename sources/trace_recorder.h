#pragma once

// The kernel side of `xcap trace`: the recording programs and the ring
// buffer their records go to. Two ways to reach the packets of a program
// that is already running:
//   - fentry_recorder: fentry/fexit programs (bpf/xcap_trace.bpf.c) on each
//     traced XDP program; they are held by bpf_links, which the kernel
//     removes when xcap exits in any way, kill -9 included.
//   - hook_recorder: xdpcap-style hook programs (bpf/xcap_hook.bpf.c), one
//     per XDP action, put into the slots of a PROG_ARRAY pinned in bpffs that
//     the user's program tail-calls. A slot holds its program until someone
//     empties it (no bpf_link exists for a map slot), so a guardian process
//     empties them when xcap is gone, kill -9 included (see hook_recorder).
// Setup only, on the main thread; counts() may be called from any thread.

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "bpf/xcap_abi.h"
#include "common/fd.h"
#include "engine/xdp_programs.h"
#include "filter/interpreter.h"

struct xcap_trace_bpf;
struct xcap_hook_bpf;

namespace xcap {

struct recorder_options {
    uint32_t snaplen = XCAP_TRACE_MAX_CAP;
    uint64_t ring_bytes = 8u << 20;  // the ring buffer's size: a power of two, at least a page
    bool entry = true;               // fentry: record each packet as the program receives it
    bool exit = true;                // fexit: ... as it leaves it, with its action
    bool force = false;              // hook: take slots another program holds
    bool verbose = false;
    // The filter expression, prepared for the recorders' interpreter
    // (bpf/xcap_cbpf.bpf.h); null: every packet is recorded. Not owned; used
    // only by the constructors.
    const interpreter_program* filter = nullptr;
};

// What one traced program (or the hook) did while traced.
struct program_counts {
    uint32_t id = 0;        // 0 for the hook
    std::string name;       // "'xdp_lb' (id 42)" or "hook /sys/fs/bpf/..."
    uint64_t seen = 0;      // packets it ran for
    uint64_t recorded = 0;  // records committed to the ring
    uint64_t ring_full = 0; // records lost: the ring had no room
    uint64_t filtered = 0;  // packets the filter did not match: not recorded
    std::vector<uint64_t> ring_full_per_cpu;
    uint64_t actions[XCAP_XDP_ACTIONS + 1] = {};  // its actions, by value (last: any other)
};

// What trace needs of either way in: the ring the records go to, the
// counts per program, and a stop that leaves the counts readable.
class trace_recorder {
public:
    virtual ~trace_recorder() = default;
    trace_recorder() = default;
    trace_recorder(const trace_recorder&) = delete;
    trace_recorder& operator=(const trace_recorder&) = delete;

    // Stops recording (the counters stay readable); idempotent.
    virtual void stop() = 0;
    virtual std::vector<program_counts> counts() const = 0;
    int ring_fd() const { return _ring_fd; }

protected:
    int _ring_fd = -1;  // owned by the recorder's first skeleton
};

class fentry_recorder final : public trace_recorder {
public:
    // Loads and attaches the recorders on every program of `targets` (kept
    // open by the caller while this lives). Throws failure(unsupported) when
    // the kernel refuses them, saying what it refused and what it needs;
    // nothing is left loaded then.
    fentry_recorder(const std::vector<xdp_program_ref>& targets, const recorder_options& opts);
    ~fentry_recorder() override;

    // Detaches every recorder.
    void stop() override;
    std::vector<program_counts> counts() const override;

private:
    struct skeleton_deleter {
        void operator()(xcap_trace_bpf* s) const;
    };
    struct traced {
        std::unique_ptr<xcap_trace_bpf, skeleton_deleter> skel;
        uint32_t id = 0;
        std::string name;
    };
    std::vector<traced> _traced;  // the first instance's ring map is shared by the others
};

class hook_recorder final : public trace_recorder {
public:
    // Opens the hook map pinned at `path`, checks its layout (xdpcap's: a
    // PROG_ARRAY, int keys and values, a slot per action), loads one recording
    // program per action and puts each into its slot. A slot held by another
    // program is refused (failure xdp_busy) unless opts.force; one left by an
    // xcap that no process runs any more (its ring is nobody's) is emptied
    // with a line to `info`. Then starts the guardian.
    hook_recorder(const std::string& path, const recorder_options& opts,
                  const std::function<void(const std::string&)>& info);
    // Empties the slots, then lets the guardian go.
    ~hook_recorder() override;

    // Empties every slot that still holds one of xcap's programs.
    void stop() override;
    std::vector<program_counts> counts() const override;
    uint32_t slots() const { return _slots; }

private:
    struct skeleton_deleter {
        void operator()(xcap_hook_bpf* s) const;
    };
    // The slots holding xcap's programs, emptied when it goes (a failed
    // setup included), before the programs are unloaded.
    struct installed_slots {
        const unique_fd* map = nullptr;
        std::vector<uint32_t> ids;  // per slot: the id of xcap's program put there, 0 = none
        void empty();
        ~installed_slots() { empty(); }
    };

    void install(const recorder_options& opts);
    void start_guardian();

    std::string _path;
    unique_fd _map;
    uint32_t _slots = 0;
    // Destroyed in reverse: the slots emptied, then the programs unloaded.
    std::unique_ptr<xcap_hook_bpf, skeleton_deleter> _skel;
    installed_slots _installed;
    unique_fd _guardian_pipe;  // its write end; the guardian acts when it closes
    pid_t _guardian = -1;
};

}  // namespace xcap
