#pragma once

// The run driver: every way of capturing (redirect, --tap, trace) describes
// what it sets up as a capture_mode, and run_mode() does the rest, once:
// promiscuous mode, the output, attach, signals, link events, the writer on
// its own thread, the main thread's supervision, the drain and the closing
// of the output. Plus the pieces the modes build their descriptions from.

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "modes/capture.h"
#include "writer/writer.h"
#include "engine/caps.h"
#include "engine/device.h"
#include "engine/xdp_attach.h"
#include "engine/link_monitor.h"
#include "engine/promisc.h"
#include "engine/signals.h"
#include "engine/stop_event.h"
#include "filter/filter.h"
#include "filter/user_filter.h"
#include "pcap/savefile.h"
#include "sources/nic_program.h"

namespace xcap {

// pcapng's Section Header Block: this machine's CPU, kernel and xcap's version.
section_description describe_section();

// pcapng's Interface Description Block for a captured interface: its name,
// `description`, driver facts, speed, link type and the snaplen.
interface_description describe_interface(const device_info& dev, const std::string& description, uint32_t snaplen);

// What the interface description adds about the clock: nothing for the
// host's, a sentence for -j adapter_unsynced.
std::string clock_note(const capture_options& opts);

// Throws failure(unsupported) when xcap cannot label the interface's frames
// in a capture file.
void require_linktype(const device_info& dev);

class nic_front;

// An interface an XDP capture (redirect, tap) attaches to: its facts, the
// takeover of a program already there, the device-bound entry program and
// the filter in front of the mode's own program. A mode's members (declared
// in the derived struct) go first, its program detaching; then these.
struct xdp_interface {
    device_info dev;
    std::unique_ptr<xdp_takeover> takeover;
    std::unique_ptr<nic_front> nic;
    std::unique_ptr<xdp_filter_program> filter_program;
};

// The checks without side effects of an XDP capture, in the order a user
// meets them: every -i exists and is up, the capabilities, then per
// interface `each` (the mode's own checks), a link type xcap can label and
// a program already there (refused unless --force). `I` derives from
// xdp_interface.
template <class I>
std::vector<std::unique_ptr<I>> check_interfaces(const capture_options& opts,
                                                 const std::function<void(I&)>& each = {}) {
    std::vector<std::unique_ptr<I>> ifs;
    for (const auto& name : opts.all_interfaces()) {
        auto& r = *ifs.emplace_back(std::make_unique<I>());
        r.dev = probe_device(name);
        require_up(r.dev);
    }
    require_capabilities(opts.tap ? tap_capabilities(opts.promiscuous) : capture_capabilities());
    for (auto& r : ifs) {
        if (each) {
            each(*r);
        }
        require_linktype(r->dev);
        r->takeover = std::make_unique<xdp_takeover>(r->dev, opts.force);
    }
    return ifs;
}

// The filter expression of a redirect or tap capture: compiled once (a bad
// expression throws failure(usage) from the constructor), then loaded on
// each interface as an XDP program in front of the capture program, which
// it tail-calls on a match. Where XDP cannot hold the filter (too long), it
// runs on the capture thread instead (in_user_space()), with one warning.
// Main thread only.
class filter_stage {
public:
    // `tap`: packets go on to the stack whatever the filter says (the
    // warning then says less).
    filter_stage(const capture_options& opts, bool tap);

    // The filter program for one interface, chained to `next_prog_fd`
    // (loaded with `frags` to match it), a rejected packet to `reject_fd`
    // (-1: none, XDP_PASS); null without a filter or once it runs in user
    // space.
    std::unique_ptr<xdp_filter_program> load(int next_prog_fd, bool frags, int reject_fd = -1);
    // The filter for the writer (writer_config::filter), or null.
    const user_filter* in_user_space() const { return _slow.get(); }
    // The warning, once attached, if the filter runs in user space.
    void warn(const capture_log& log) const;
    // The compiled expression, for a program that runs it otherwise (the
    // classic interpreter); null without a filter.
    const compiled_filter* compiled() const { return _filter ? &*_filter : nullptr; }

private:
    std::optional<compiled_filter> _filter;
    bool _tap;
    bool _verbose;
    std::unique_ptr<user_filter> _slow;
    std::string _slow_line;
};

// The device-bound entry program in front of one interface's XDP programs
// (sources/nic_program.h): it puts back the VLAN tags the driver took off,
// so that the filter and the file see them. Where the kernel or driver
// cannot (before Linux 6.8, a driver without the kfunc, generic XDP), the
// capture goes on as before and says why in one -v line. Main thread only.
// Its steps follow the loads: state_fd() for the capture program, load()
// before the filter (whose rejections go to untag_fd()), chain() once the
// filter is loaded, then attach().
class nic_front {
public:
    nic_front(const device_info& dev, const capture_options& opts);

    // What the capture program shares with it (state_fd -1: no entry).
    nic_link link() const { return {_state.get(), _time}; }
    // Loads the entry (`frags` as the program after it); on a refusal there
    // is none, and the -v line says so.
    void load(bool frags);
    bool active() const { return _program != nullptr; }
    // For a filter's rejections; -1: none.
    int untag_fd() const { return _program ? _program->untag_fd() : -1; }
    // What the entry tail-calls.
    void chain(int next_fd);
    // Attaches through `attach` (a capture program's attach with an entry
    // fd): the entry in native mode when there is one (a device-bound
    // program cannot run in generic XDP), falling back to `plain_fd`.
    void attach(const std::function<void(int, xdp_mode)>& attach, int plain_fd, xdp_mode mode,
                const capture_log& log);
    // Its counts for the summary: tags put back (and left out for want of
    // room), NIC time stamps and packets without one.
    std::vector<std::string> program_lines() const;

private:
    const device_info& _dev;
    bool _vlan = false;
    bool _verbose = false;
    bool _time = false;
    std::string _note;  // why there is no entry program
    unique_fd _state;
    std::unique_ptr<nic_program> _program;
};

// The output as the options ask for it (-w, the format by output_format()
// with `otherwise`, rotation, -U, -z failures reported through log.warn).
savefile_config output_config(const capture_options& opts, file_format otherwise, const capture_log& log);

// Copies the writer's counters (written, bytes, cut, errors, over the
// limit, unstamped, its filter's rejections) into `t`.
void add_writer_counts(capture_totals& t, const capture_writer& writer);

// The rejections of the interface's XDP filter, if it has one.
inline void add_filter_counts(capture_totals& t, const xdp_interface& r) {
    if (r.filter_program) {
        t.filtered = true;
        t.filter_rejected += r.filter_program->counters().rejected;
    }
}

// The end of every mode's collect(): each interface's device-bound program
// lines (`I` has a nic_front `nic`), then the writer's counts.
template <class I>
capture_totals finish_totals(capture_totals& t, const std::vector<std::unique_ptr<I>>& ifs,
                             const capture_writer& writer) {
    for (const auto& r : ifs) {
        for (auto& line : r->nic->program_lines()) {
            t.program_lines.push_back(std::move(line));
        }
    }
    add_writer_counts(t, writer);
    return t;
}

// What one way of capturing sets up; run_mode() does the rest the same way
// for every one. The mode's constructor does every check and load that
// touches nothing the user has (probe, capabilities, filter, programs,
// sockets); attach() is the step that takes the interfaces' packets.
// Called on the main thread, except collect(),
// which the writer thread also calls (for pcapng's statistics blocks at a
// rotation): it reads counters only.
class capture_mode {
public:
    // An interface the mode captures on: put in promiscuous mode (unless
    // -p) and watched for link events.
    struct interface {
        const device_info* dev;
        uint32_t frame_limit = 0;  // the longest frame taken there (0 = any)
    };

    virtual ~capture_mode() = default;

    virtual std::vector<interface> interfaces() const = 0;
    // pcapng's Interface Description Blocks, in the output's interface order.
    virtual std::vector<interface_description> describe() const = 0;
    // The file format when neither --format nor the name says
    // (pcap/savefile.h output_format).
    virtual file_format default_format() const { return file_format::pcap; }
    virtual std::vector<packet_source*> sources() = 0;
    // What the writer needs beyond the common settings (wake batch, merge
    // backlog, a filter the XDP program could not hold).
    virtual void configure(writer_config& cfg) const = 0;
    // Attaches: from now on packets arrive. Says so on log.info.
    virtual void attach(const capture_log& log) = 0;
    // Stops new packets (detach); the writer then drains what arrived.
    virtual void stop_input() = 0;
    // Every counter so far, the writer's included (add_writer_counts).
    virtual capture_totals collect(const capture_writer& writer) = 0;
    virtual const char* thread_name() const { return "xcap-capture"; }
};

// A capture from its setup to its closed output, the same for every mode:
// promiscuous mode, the output (opened before attach, but untouched until
// the capture is on), attach, signals and link monitors, the writer, the
// capture thread, supervise() until something ends the capture, then the
// mode's stop_input(), the drain, the final counts and finish_output().
capture_result run_mode(capture_mode& mode, const capture_options& opts, const capture_log& log);

// A mode `M` (constructed from the options) run by run_mode().
template <class M>
capture_result run_mode_of(const capture_options& opts, const capture_log& log) {
    route_library_logs(opts.verbose);
    M mode(opts);
    return run_mode(mode, opts, log);
}

}  // namespace xcap
