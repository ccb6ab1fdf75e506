#pragma once

#include <optional>
#include <string>

#include "pcap/savefile.h"

namespace xcap {

// One rule for the format of every mode's output file: --format when given;
// otherwise by the name, ".pcapng" is pcapng and ".pcap" is pcap; otherwise
// the mode's own default, `otherwise`: pcap for a capture (as tcpdump
// writes), pcapng for a trace (its verdicts and entry/exit pairs need it).
// A pure function of pcap/ types only, so that it can move to
// pcap/savefile.h beside format_for_path for capture/ to call too (capture/
// may not include cli/).
file_format output_format(const std::optional<file_format>& asked, const std::string& path, file_format otherwise);

}  // namespace xcap
