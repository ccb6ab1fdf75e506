#pragma once

#include <string>
#include <system_error>

namespace xcap {

// What kind of setup failure this was; cli/ maps each kind to a documented
// exit code. The engine decides the kind because it is the one that knows
// whether EPERM came from a missing capability or from a driver refusing.
enum class failure_kind {
    runtime,      // failed while running (write error, kernel error mid-capture)
    usage,        // bad option or value
    interface,    // no such interface, interface down, queue out of range
    permission,   // not root / a capability is missing
    output,       // output file not writable
    xdp_busy,     // another XDP program is attached
    unsupported,  // the kernel or driver refused what was asked (zero-copy, native mode, ...)
};

// A setup error: std::system_error carrying the failure kind and a hint that
// tells the user what to do. what() is "<what failed>: <strerror>".
class setup_error : public std::system_error {
public:
    setup_error(failure_kind kind, int err, const std::string& what, std::string hint = {})
        : std::system_error(err, std::generic_category(), what), _kind(kind), _hint(std::move(hint)) {}

    failure_kind kind() const noexcept { return _kind; }
    const std::string& hint() const noexcept { return _hint; }

private:
    failure_kind _kind;
    std::string _hint;
};

// A setup error with no errno behind it: what() is the message alone.
class usage_error : public std::runtime_error {
public:
    usage_error(failure_kind kind, const std::string& message, std::string hint = {})
        : std::runtime_error(message), _kind(kind), _hint(std::move(hint)) {}

    failure_kind kind() const noexcept { return _kind; }
    const std::string& hint() const noexcept { return _hint; }

private:
    failure_kind _kind;
    std::string _hint;
};

}  // namespace xcap
