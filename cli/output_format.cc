#include "cli/output_format.h"

namespace xcap {
namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

file_format output_format(const std::optional<file_format>& asked, const std::string& path, file_format otherwise) {
    if (asked) {
        return *asked;
    }
    if (ends_with(path, ".pcapng")) {
        return file_format::pcapng;
    }
    if (ends_with(path, ".pcap")) {
        return file_format::pcap;
    }
    return otherwise;
}

}  // namespace xcap
