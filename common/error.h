#pragma once

#include <cstring>
#include <stdexcept>
#include <string>

namespace xcap {

// What kind of failure this was; cli/ maps each kind to a documented exit
// code. The code that fails decides the kind because it is the one that
// knows whether EPERM came from a missing capability or a driver refusing.
enum class failure_kind {
    runtime,      // failed while running (write error, kernel error mid-capture)
    usage,        // bad option or value
    interface,    // no such interface, interface down or gone, queue out of range
    permission,   // not root / a capability is missing
    output,       // output file not writable
    xdp_busy,     // another XDP program is attached
    unsupported,  // the kernel or driver refused what was asked (zero-copy, native mode, ...)
    input,        // replay: the input is missing, unreadable, not a capture or not Ethernet
};

// xcap's one error type: a kind (→ exit code), the errno behind it (0 when
// there is none), and a hint that tells the user what to do. what() is the
// message, followed by ": <strerror>" when there is an errno. Thrown by setup
// code everywhere and caught once, in cli/main.cc.
class failure : public std::runtime_error {
public:
    failure(failure_kind kind, std::string message, std::string hint = {})
        : std::runtime_error(std::move(message)), _kind(kind), _hint(std::move(hint)) {}
    failure(failure_kind kind, int err, const std::string& what, std::string hint = {})
        : std::runtime_error(err ? what + ": " + std::strerror(err) : what),
          _kind(kind),
          _errno(err),
          _hint(std::move(hint)) {}

    failure_kind kind() const noexcept { return _kind; }
    int code() const noexcept { return _errno; }
    const std::string& hint() const noexcept { return _hint; }

private:
    failure_kind _kind;
    int _errno = 0;
    std::string _hint;
};

}  // namespace xcap
