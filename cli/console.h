#pragma once

#include <cstdio>
#include <functional>
#include <string>

namespace xcap {

// What a line on stderr is, which decides whether -q keeps it.
enum class line_kind {
    setup,  // attaching, per-queue binding, how the capture ended: -q drops these
    stats,  // the --stats line: asked for by name, so -q does not drop it
    warning,  // something went wrong but the run goes on (a -z command failed): never dropped
};

// Whether a line of `kind` is printed. -q quiets the setup lines only, in
// tcpdump's sense; what the user asked for explicitly still prints.
bool shown(line_kind kind, bool quiet);

// The xcap executable's lines: each "xcap: " + line + "\n" on one stream
// (stderr unless a test gives another). Holds no state but the stream, which
// it borrows; each line is one fprintf, which stdio keeps whole when several
// threads print.
class console {
public:
    explicit console(bool quiet, FILE* out = stderr) : _quiet(quiet), _out(out) {}

    void print(line_kind kind, const std::string& line) const;
    // A callback for run_capture / run_replay that prints lines of `kind`.
    std::function<void(const std::string&)> printer(line_kind kind) const;
    // Every line of `text` (a summary): never quieted.
    void print_all(const std::string& text) const;

private:
    bool _quiet;
    FILE* _out;
};

}  // namespace xcap
