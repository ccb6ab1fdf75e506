#pragma once

// The run driver: every way of capturing (redirect, --tap, trace) describes
// what it sets up as a capture_mode, and run_mode() does the rest, once:
// promiscuous mode, the output, attach, signals, link events, the writer on
// its own thread, the main thread's supervision, the drain and the closing
// of the output. Plus the pieces the modes build their descriptions from.

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "modes/capture.h"
#include "writer/writer.h"
#include "engine/device.h"
#include "engine/link_monitor.h"
#include "engine/promisc.h"
#include "engine/signals.h"
#include "engine/stop_event.h"
#include "filter/filter.h"
#include "filter/user_filter.h"
#include "pcap/savefile.h"

namespace xcap {

// pcapng's Section Header Block: this machine's CPU, kernel and xcap's version.
section_description describe_section();

// pcapng's Interface Description Block for a captured interface: its name,
// `description`, driver facts, speed, link type and the snaplen.
interface_description describe_interface(const device_info& dev, const std::string& description, uint32_t snaplen);

// Throws failure(unsupported) when xcap cannot label the interface's frames
// in a capture file.
void require_linktype(const device_info& dev);

// For a filter XDP cannot hold (`why`), run by the capture thread instead:
// the warning line that says so and what it costs (`tap`: every packet is
// copied; redirect: every packet is also taken from the stack).
std::string user_space_filter_line(const compiled_filter& filter, const filter_too_long& why, bool tap);

// The output as the options ask for it (-w, --format or else `format`,
// rotation, -U, -z failures reported through log.warn).
savefile_config output_config(const capture_options& opts, file_format format, const capture_log& log);

// Copies the writer's counters (written, bytes, cut, errors, over the
// limit, unstamped, its filter's rejections) into `t`.
void add_writer_counts(capture_totals& t, const capture_writer& writer);

// What one way of capturing sets up; run_mode() does the rest the same way
// for every one. The mode's constructor does every check and load that
// touches nothing the user has (probe, capabilities, filter, programs,
// sockets); attach() is the step that takes the interfaces' packets.
// Called on the main thread, except collect() and interface_counts(),
// which the writer thread also calls (for pcapng's statistics blocks
// at a rotation): they read counters only.
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
    // The file format when --format does not say (by default by the name).
    virtual file_format default_format(const std::string& path) const { return format_for_path(path); }
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
    // Per interface, for pcapng's Interface Statistics Blocks.
    virtual std::vector<interface_statistics> interface_counts(const capture_totals& t) const = 0;
    virtual const char* thread_name() const { return "xcap-capture"; }
};

// A capture from its setup to its closed output, the same for every mode:
// promiscuous mode, the output (opened before attach, but untouched until
// the capture is on), attach, signals and link monitors, the writer, the
// capture thread, supervise() until something ends the capture, then the
// mode's stop_input(), the drain, the final counts and finish_output().
capture_result run_mode(capture_mode& mode, const capture_options& opts, const capture_log& log);

}  // namespace xcap
