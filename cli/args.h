#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "engine/xdp_attach.h"
#include "engine/xsk.h"

// The pieces every subcommand's parser is built from: the argument walker,
// the value parsers and the choice tables. Used while parsing, on one thread;
// the parsers throw failure(usage) naming the option and the value.
namespace xcap {

// Throws failure(usage) "OPTION VALUE: WHY", with the hint "see xcap --help".
[[noreturn]] void usage_error(const std::string& option, const std::string& value, const std::string& why);

// Walks argv with getopt_long's spellings: "-i eth0", "-ieth0",
// "--interface eth0" and "--interface=eth0". Borrows `args`, which must
// outlive it.
class arg_walker {
public:
    // `help` is the hint of its failures for a missing value or an unknown
    // option ("see xcap replay --help").
    arg_walker(const std::vector<std::string>& args, std::string help) : _args(args), _help(std::move(help)) {}

    // Advances to the next word; false at the end.
    bool next();
    // The word is an operand, not an option: it does not start with '-', or
    // it comes after "--" (which is itself skipped).
    bool operand() const { return _operand; }
    const std::string& name() const { return _name; }
    // The option's value: attached ("-ieth0", "--x=y") or the next word.
    std::string value();
    // For flags: refuses an attached value.
    void flag() const;
    // "unknown WHAT'WORD'" (what: "option ", "replay option ").
    [[noreturn]] void unknown(const std::string& what) const;

private:
    const std::vector<std::string>& _args;
    std::string _help;
    size_t _i = size_t(-1);
    std::string _name;
    std::string _value;
    bool _attached = false;
    bool _operand = false;
    bool _options_ended = false;  // seen "--"
};

// `value`, which must not be empty; `needs` says what it names ("needs a command").
std::string not_empty(const std::string& option, const std::string& value, const char* needs);
// A whole number in [min, max]; names the bounds when it is out of them.
uint64_t parse_uint(const std::string& option, const std::string& value, uint64_t min, uint64_t max);
// Seconds above 0 and at most a year, fractions allowed.
double parse_seconds(const std::string& option, const std::string& value);
// A number above 0 and at most `max`; `unit` ("Mbps") goes into the message
// that names the range.
double parse_positive(const std::string& option, const std::string& value, double max, const std::string& unit = "");
// A size, in bytes. One rule for every size option: a whole number with a
// k, m or g suffix (either case) is KiB, MiB or GiB; a bare number counts
// `bare_unit` bytes, the unit the option names in its help (KiB for -B and
// --ring-size, MiB for --preload, and for -C millions of bytes, as tcpdump
// counts them). A size outside [min, max] is refused, never clamped; the
// message names the range.
uint64_t parse_size(const std::string& option, const std::string& value, uint64_t bare_unit, uint64_t min,
                    uint64_t max);
// A size as parse_size reads it back with a suffix: 4096 → "4k", 1 << 30 →
// "1g"; "N bytes" when it is not whole KiB.
std::string size_text(uint64_t bytes);

template <typename T>
struct choice {
    std::string_view name;
    T value;
};

// "a, b or c", for the message of a value that is none of them.
std::string one_of(const std::vector<std::string_view>& names);

// The table entry named `value`; otherwise a usage failure listing every name.
template <typename T, size_t N>
T parse_choice(const std::string& option, const std::string& value, const choice<T> (&table)[N]) {
    std::vector<std::string_view> names;
    for (const auto& c : table) {
        if (c.name == value) {
            return c.value;
        }
        names.push_back(c.name);
    }
    usage_error(option, value, "must be " + one_of(names));
}

// --xdp-mode and --bind mean the same for every subcommand.
inline constexpr choice<xdp_mode> xdp_modes[] = {
    {"auto", xdp_mode::automatic}, {"native", xdp_mode::native}, {"generic", xdp_mode::generic}};
inline constexpr choice<bind_mode> bind_modes[] = {
    {"auto", bind_mode::automatic}, {"zerocopy", bind_mode::zerocopy}, {"copy", bind_mode::copy}};

}  // namespace xcap
