#pragma once

// The parts of a capture that every way in shares (redirect, tap, trace):
// the section header, the capture thread, the main thread's supervision and
// the closing of the output. A mode sets up its sources and calls these.

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

// Promiscuous mode on `dev` for as long as the result lives, unless -p.
// Throws failure when the kernel refuses.
std::unique_ptr<promiscuous_mode> promiscuous_for(const device_info& dev, const capture_options& opts);
// The setup line that says so, once the capture is attached (a refusal
// before that stays the only line).
void say_promiscuous(const device_info& dev, const promiscuous_mode* promisc, const capture_log& log);

// For a filter XDP cannot hold (`why`): the same filter run by the capture
// thread, with one warning line saying what that costs (`tap`: every packet
// is copied; redirect: every packet is also taken from the stack).
std::unique_ptr<user_filter> user_space_filter(const compiled_filter& filter, const filter_too_long& why, bool tap,
                                               const capture_log& log);

// The output as the options ask for it (-w, --format, rotation, -U, -z
// failures reported through log.warn).
savefile_config output_config(const capture_options& opts, const capture_log& log);

// Stops and joins the capture thread on every path out of a capture.
struct capture_thread {
    stop_event stop;
    std::thread thread;

    void stop_and_join() {
        stop.request();
        if (thread.joinable()) {
            thread.join();
        }
    }
    ~capture_thread() { stop_and_join(); }
};


// An interface the capture watches: its facts and its link events (both
// owned by the caller).
struct watched_link {
    const device_info* dev;
    link_monitor* monitor;
    uint32_t frame_limit = 0;  // the longest frame the capture takes there (0 = any)
};

// The main thread while the capture runs: it sleeps in poll() until a stop
// signal, the writer finishing, a link event, the next --stats line or the
// --duration deadline, so an idle capture costs no wake-ups here either.
// Any interface disappearing ends it (interface_gone, its name in `*gone`);
// one going down or up, or its MTU raised past its frame_limit, is a warning
// line, and the capture goes on.
capture_end supervise(const capture_options& opts, const std::vector<watched_link>& links,
                      const stop_signals& signals, const capture_writer& writer, const savefile_set& files,
                      const std::function<capture_totals()>& collect, const capture_log& log, int64_t start,
                      std::string* gone = nullptr);

// Copies the writer's counters (written, bytes, cut, errors, over the
// limit, unstamped, its filter's rejections) into `t`.
void add_writer_counts(capture_totals& t, const capture_writer& writer);

// A capture from its first packet to its closed output, the same for every
// way in: the pcapng statistics source (`counts` of `collect()`), the
// capture thread running the writer, supervise() until something ends the
// capture, then `stop_input` (detach the programs, so nothing new arrives),
// the drain, the final counts and finish_output().
capture_result run_pipeline(const capture_options& opts, const std::vector<watched_link>& links,
                            const stop_signals& signals, capture_writer& writer, savefile_set& files,
                            const std::function<capture_totals()>& collect,
                            const std::function<std::vector<interface_statistics>(const capture_totals&)>& counts,
                            const std::function<void()>& stop_input, const capture_log& log,
                            const char* thread_name = "xcap-capture");

// After the capture thread has stopped: closes the output (the last file
// gets its statistics from `final_counts`, -z runs on it, a second signal
// ends the wait for -z commands), and makes result's written/lost counts
// exact from what the files hold.
void finish_output(savefile_set& files, const stop_signals& signals, capture_result& result, const capture_log& log,
                   const savefile_set::statistics_source& final_counts);

}  // namespace xcap
