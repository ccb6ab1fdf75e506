#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "cli/options.h"

// One table per subcommand (capture, replay, trace) says, for each option,
// its spellings, its value's name, its help paragraph and what parsing does
// with it. The parser (parse_by_table) and --help (render_help) both read
// it, so they cannot disagree; a man page generator can read the same data,
// free-text sections included (command_doc): cli/man_page.h does.
//
// Text conventions, for --help and for a generator: text is written wrapped
// for an 80-column terminal, without its section's indentation (--help
// indents it by 4, an option's paragraph by 8). A blank line separates
// paragraphs. A line indented further than the first line of its paragraph
// is laid out by hand (a list, an example): keep it as it is (.nf); other
// lines may be refilled.
//
// The tables are constant, built on first use (thread-safe); parsing writes
// only the parse_state it is given.
namespace xcap {

struct parse_state;

// A word of the command line, as an option's apply takes it.
using word = const std::string&;

// What an option does: `option` is the spelling used, `value` its value ("" for a flag).
using option_apply = void (*)(parse_state& st, word option, word value);

struct option {
    std::string_view short_name;  // "-i"; empty when it has none
    std::string_view long_name;   // "--interface"; empty when it has none
    std::string_view value;       // the value's name ("FILE"; choices as "auto|native|generic"); empty for a flag
    std::string_view help;        // its paragraph; empty: described together with the option before it
    option_apply apply;
};

// The same option, described in other words (another subcommand's help).
constexpr option with_help(option o, std::string_view help) {
    o.help = help;
    return o;
}
constexpr option with_help(option o, std::string_view value, std::string_view help) {
    o.value = value;
    o.help = help;
    return o;
}
// Described together with the option before it in the table.
constexpr option grouped(option o) { return with_help(o, {}); }

// A subcommand's whole manual: NAME, SYNOPSIS, DESCRIPTION, OPTIONS (the
// table), EXIT STATUS and EXAMPLES.
struct command_doc {
    std::string_view command;      // "xcap", "xcap replay"
    std::string_view subcommand;   // "", "replay": names the subcommand in "unknown replay option 'x'"
    std::string_view summary;      // NAME: "COMMAND - SUMMARY"
    std::string_view synopsis;
    std::string_view description;
    std::span<const option> options;
    std::string_view exit_status;
    std::string_view examples;
    bool takes_expression = false;  // operands are the words of a filter expression; otherwise refused
};

// The filter expression as tcpdump takes it, for a capture and a trace
// alike: the operands, or -F FILE (the whole file; line breaks are spaces);
// and -d, which prints the compiled program instead of running.
struct filter_words {
    std::string expression;
    std::string file;
    bool dump = false;

    // The expression ("" for none), read from the file with -F. Throws
    // failure(usage) when both are given or the file cannot be read.
    std::string finish() const;
};

// What parsing one command line builds, and what the checks after its last
// word need to know. Not copyable: `output` points into `cmd`.
struct parse_state {
    explicit parse_state(cli_command::kind what);
    parse_state(const parse_state&) = delete;
    parse_state& operator=(const parse_state&) = delete;

    cli_command cmd;
    capture_options* output;     // where -i, -w and the other output options go: the capture's or the trace's
    filter_words filter;
    bool buffer_given = false;   // -B
    bool ring_given = false;     // --ring-size (capture)
    bool at_given = false;       // --at
    int pacing_options = 0;      // replay: how many of --multiplier, --pps, --mbps and --topspeed
    bool stop = false;           // -h, -D, --version: the rest of the line is not read

    // -h, -D, --version: the command is `what`, whatever else the line says.
    void answer(cli_command::kind what) {
        cmd.what = what;
        stop = true;
    }
};

// The apply of an option that answers instead of running (-h, --version,
// -D): the command becomes `what`, whatever else the line says.
template <cli_command::kind what>
void answer_with(parse_state& st, word, word) {
    st.answer(what);
}

// Parses `args` (without the subcommand's name) by `doc`'s table into `st`:
// each option in any of getopt_long's forms (arg_walker), the operands as
// the filter expression's words where the subcommand takes one. Throws
// failure(usage) for an unknown option, a missing value, a value given to a
// flag, and whatever an option's own parsing refuses.
void parse_by_table(const command_doc& doc, const std::vector<std::string>& args, parse_state& st);

// parse_by_table for a command that takes a filter expression (capture,
// trace), which then reads -F's file into st.output->filter. True when the
// line asks for no run: -h, -D or --version, or -d (the command is then
// dump_filter, with the expression and the snaplen, at most
// `dump_max_snaplen`, in cmd.capture).
bool parse_filtered_command(const command_doc& doc, const std::vector<std::string>& args, parse_state& st,
                            uint32_t dump_max_snaplen);

// The --help text: every section, the options in table order.
std::string render_help(const command_doc& doc);

// An option's spellings as --help shows them: "-i, --interface".
std::string spellings(const option& o);

// The table in its groups: each option with the ones after it that have no
// help of their own (grouped), as --help and the man page describe them.
std::vector<std::span<const option>> option_groups(std::span<const option> table);

}  // namespace xcap
