#include "cli/args.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <utility>

namespace xcap {

void usage_error(const std::string& option, const std::string& value, const std::string& why) {
    throw failure(failure_kind::usage, option + " " + value + ": " + why, "see xcap --help");
}

bool arg_walker::next() {
    if (++_i >= _args.size()) {
        return false;
    }
    _name = _args[_i];
    _value.clear();
    _attached = false;
    _operand = false;
    if (!_options_ended && _name == "--") {
        _options_ended = true;
        return next();
    }
    if (_options_ended || _name.empty() || _name[0] != '-') {
        _operand = true;
        return true;
    }
    if (_name.rfind("--", 0) == 0 && _name.find('=') != std::string::npos) {
        _value = _name.substr(_name.find('=') + 1);
        _name = _name.substr(0, _name.find('='));
        _attached = true;
    } else if (_name.size() > 2 && _name[0] == '-' && _name[1] != '-') {
        _value = _name.substr(2);
        _name = _name.substr(0, 2);
        _attached = true;
    }
    return true;
}

std::string arg_walker::value() {
    if (_attached) {
        return _value;
    }
    if (_i + 1 >= _args.size()) {
        throw failure(failure_kind::usage, _name + " needs a value", _help);
    }
    return _args[++_i];
}

void arg_walker::flag() const {
    if (_attached) {
        usage_error(_name, _value, "takes no value");
    }
}

void arg_walker::unknown(const std::string& what) const {
    throw failure(failure_kind::usage, "unknown " + what + "'" + _args[_i] + "'", _help);
}

std::string not_empty(const std::string& option, const std::string& value, const char* needs) {
    if (value.empty()) {
        usage_error(option, "''", needs);
    }
    return value;
}

uint64_t parse_uint(const std::string& option, const std::string& value, uint64_t min, uint64_t max) {
    // strtoull alone would take "-3" (as a huge number), " 3" and "3x".
    if (value.empty() || value.find_first_not_of("0123456789") != std::string::npos) {
        usage_error(option, "'" + value + "'", "not a whole number");
    }
    errno = 0;
    unsigned long long v = std::strtoull(value.c_str(), nullptr, 10);
    if (errno == ERANGE || v < min || v > max) {
        usage_error(option, value, "must be between " + std::to_string(min) + " and " + std::to_string(max));
    }
    return v;
}

namespace {

// Whether all of `value` is a number (infinity included, NaN not); errno
// then tells of overflow.
bool to_double(const std::string& value, double& out) {
    char* end = nullptr;
    errno = 0;
    out = std::strtod(value.c_str(), &end);
    return !value.empty() && *end == '\0' && !std::isnan(out);
}

}  // namespace

double parse_seconds(const std::string& option, const std::string& value) {
    double v = 0;
    if (!to_double(value, v) || errno == ERANGE || !std::isfinite(v) || v <= 0 || v > 31'536'000) {
        usage_error(option, "'" + value + "'", "must be a number of seconds above 0 (and at most a year)");
    }
    return v;
}

double parse_positive(const std::string& option, const std::string& value, double max, const std::string& unit) {
    double v = 0;
    if (!to_double(value, v)) {
        usage_error(option, "'" + value + "'", "not a number");
    }
    // Out of range, "inf" and overflow included: say what the range is, so
    // that "--mbps 1e12" is not told it is not above 0.
    if (errno == ERANGE || !(v > 0 && v <= max)) {
        std::string bound = std::to_string(uint64_t(max));
        usage_error(option, value, "must be above 0 and at most " + bound + (unit.empty() ? "" : " " + unit));
    }
    return v;
}

uint64_t parse_size(const std::string& option, const std::string& value, uint64_t bare_unit, uint64_t min,
                    uint64_t max) {
    std::string digits = value;
    uint64_t unit = bare_unit;
    if (!digits.empty()) {
        switch (digits.back()) {
            case 'k': case 'K': unit = uint64_t(1) << 10; digits.pop_back(); break;
            case 'm': case 'M': unit = uint64_t(1) << 20; digits.pop_back(); break;
            case 'g': case 'G': unit = uint64_t(1) << 30; digits.pop_back(); break;
            default: break;
        }
    }
    if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos) {
        const char* bare = bare_unit == 1'000'000 ? "millions of bytes"
                           : bare_unit == 1 << 20 ? "MiB"
                           : bare_unit == 1 << 10 ? "KiB"
                                                  : "bytes";
        usage_error(option, "'" + value + "'",
                    std::string("not a size: not a whole number of ") + bare + ", nor one with a k, m or g suffix");
    }
    errno = 0;
    const unsigned long long n = std::strtoull(digits.c_str(), nullptr, 10);
    uint64_t bytes = 0;
    if (errno == ERANGE || __builtin_mul_overflow(uint64_t(n), unit, &bytes) || bytes < min || bytes > max) {
        usage_error(option, value, "out of range (" + size_text(min) + " to " + size_text(max) + ")");
    }
    return bytes;
}

std::string size_text(uint64_t bytes) {
    if (bytes == 0) {
        return "0";
    }
    for (const auto& [shift, suffix] : {std::pair{30, 'g'}, std::pair{20, 'm'}, std::pair{10, 'k'}}) {
        if (bytes % (uint64_t(1) << shift) == 0) {
            return std::to_string(bytes >> shift) + suffix;
        }
    }
    return std::to_string(bytes) + " bytes";
}

std::string one_of(const std::vector<std::string_view>& names) {
    std::string s;
    for (size_t i = 0; i < names.size(); ++i) {
        if (i > 0) {
            s += i + 1 == names.size() ? " or " : ", ";
        }
        s += names[i];
    }
    return s;
}

}  // namespace xcap
