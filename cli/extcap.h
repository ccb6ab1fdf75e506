#pragma once

#include <string>
#include <vector>

// xcap as a Wireshark extcap program (extcap(4)): Wireshark, tshark and
// dumpcap run the link in their extcap folder with the extcap options, and
// xcap answers with its interfaces (one "xcap-IF" per interface of the
// network namespace), their link types and the capture's settings, or
// captures into Wireshark's FIFO until Wireshark closes it or sends
// SIGTERM. A capture goes through the same option table and run_capture /
// run_tap as `xcap -i IF -w FILE`. Runs on the main thread; a capture
// starts one watcher thread of its own.
namespace xcap {

// Whether `args` (argv without the program) is one of Wireshark's calls:
// its first word is an extcap option (--extcap-interfaces, --extcap-dlts,
// --extcap-config, --extcap-interface, --extcap-version, --capture), none
// of which a capture command line starts with.
bool is_extcap_call(const std::vector<std::string>& args);

// Answers the call: the text on standard output, exit 0. A bad capture
// filter when Wireshark checks one is one line on standard output (exit 0:
// extcap's way of saying the filter is refused). A failure is one line on
// standard error and xcap's exit code for it; a capture that ends well
// writes nothing there (Wireshark shows whatever comes as an error).
int extcap_main(const std::vector<std::string>& args);

}  // namespace xcap
