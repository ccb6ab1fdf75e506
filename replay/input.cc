#include "replay/input.h"

#include <sys/stat.h>

#include "common/error.h"

namespace xcap {

replay_input open_replay_input(const replay_options& opts) {
    if (struct stat st{}; opts.input != "-" && stat(opts.input.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
                          st.st_size == 0) {
        throw read_error(opts.input + ": the file is empty (0 bytes), not a pcap or pcapng capture");
    }
    if (opts.loops != 1 && !capture_reader::can_reread(opts.input)) {
        throw failure(failure_kind::usage,
                      "--loop " + std::to_string(opts.loops) +
                          ": standard input is a pipe (or another stream), which can be read only once",
                      "name the file with -r FILE, or redirect it: -r - < FILE");
    }
    replay_input input(opts.input);
    input.first().require_ethernet();
    return input;
}

void keep_input_error(const std::exception_ptr& error, replay_result& result) {
    if (!error) {
        return;
    }
    try {
        std::rethrow_exception(error);
    } catch (const failure& e) {
        result.input_error = e;
    }
}

}  // namespace xcap
