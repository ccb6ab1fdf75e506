#pragma once

// The parts of a capture that every way in shares (redirect, tap, trace):
// the section header, the capture thread, the main thread's supervision and
// the closing of the output. A mode sets up its sources and calls these.

#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "capture/capture.h"
#include "capture/writer.h"
#include "engine/device.h"
#include "engine/link_monitor.h"
#include "engine/signals.h"
#include "engine/stop_event.h"
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

// The main thread while the capture runs: it sleeps in poll() until a stop
// signal, the writer finishing, a link event, the next --stats line or the
// --duration deadline, so an idle capture costs no wake-ups here either.
// `frame_limit`: the longest frame the capture takes (0 = any); an MTU
// raised past it while capturing gets one line.
capture_end supervise(const capture_options& opts, const device_info& dev, const stop_signals& signals,
                      link_monitor& monitor, const capture_writer& writer, const savefile_set& files,
                      const std::function<capture_totals()>& collect, const capture_log& log, int64_t start,
                      uint32_t frame_limit = 0);

// An interface the capture watches: its facts and its link events (both
// owned by the caller).
struct watched_link {
    const device_info* dev;
    link_monitor* monitor;
    uint32_t frame_limit = 0;  // the longest frame the capture takes there (0 = any)
};

// The same for a capture of several interfaces: any one disappearing ends
// it (interface_gone, its name in `*gone`); one going down or up, or its MTU
// raised past its frame_limit, is a warning line, and the capture goes on.
capture_end supervise(const capture_options& opts, const std::vector<watched_link>& links,
                      const stop_signals& signals, const capture_writer& writer, const savefile_set& files,
                      const std::function<capture_totals()>& collect, const capture_log& log, int64_t start,
                      std::string* gone = nullptr);

// After the capture thread has stopped: closes the output (the last file
// gets its statistics from `final_counts`, -z runs on it, a second signal
// ends the wait for -z commands), and makes result's written/lost counts
// exact from what the files hold.
void finish_output(savefile_set& files, const stop_signals& signals, capture_result& result, const capture_log& log,
                   const savefile_set::statistics_source& final_counts);

}  // namespace xcap
