#include "cli/console.h"

namespace xcap {

bool shown(line_kind kind, bool quiet) {
    switch (kind) {
        case line_kind::setup: return !quiet;
        case line_kind::stats: return true;
        case line_kind::warning: return true;
    }
    return true;
}

void console::print(line_kind kind, const std::string& line) const {
    if (shown(kind, _quiet)) {
        std::fprintf(_out, "xcap: %s\n", line.c_str());
    }
}

std::function<void(const std::string&)> console::printer(line_kind kind) const {
    return [self = *this, kind](const std::string& line) { self.print(kind, line); };
}

void console::print_all(const std::string& text) const {
    size_t pos = 0;
    while (pos < text.size()) {
        size_t nl = text.find('\n', pos);
        std::fprintf(_out, "xcap: %s\n", text.substr(pos, nl - pos).c_str());
        pos = nl == std::string::npos ? text.size() : nl + 1;
    }
}

}  // namespace xcap
