#include "cli/option_table.h"

#include <algorithm>

#include "cli/args.h"

namespace xcap {
namespace {

constexpr size_t help_width = 80;

const option* find_option(std::span<const option> table, const std::string& spelling) {
    for (const option& o : table) {
        if ((!o.short_name.empty() && spelling == o.short_name) || (!o.long_name.empty() && spelling == o.long_name)) {
            return &o;
        }
    }
    return nullptr;
}

// `text` with `indent` spaces before each of its lines but the blank ones.
std::string indented(std::string_view text, size_t indent) {
    std::string out;
    while (!text.empty()) {
        const size_t end = text.find('\n');
        const std::string_view line = text.substr(0, end);
        if (!line.empty()) {
            out.append(indent, ' ');
            out += line;
        }
        out += '\n';
        text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    }
    return out;
}

// The heading of options described together: one option's spellings and
// value, or a group's spellings only (their values are in the paragraph),
// wrapped at the width.
std::string heading(std::span<const option> group) {
    if (group.size() == 1) {
        const option& o = group.front();
        return "    " + spellings(o) + (o.value.empty() ? "" : " " + std::string(o.value)) + "\n";
    }
    std::string out;
    std::string line = "   ";
    for (const option& o : group) {
        for (std::string_view s : {o.short_name, o.long_name}) {
            if (s.empty()) {
                continue;
            }
            if (line.size() + s.size() + 2 > help_width) {
                out += line + "\n";
                line = "   ";
            }
            line += " " + std::string(s) + ",";
        }
    }
    line.pop_back();  // the last comma
    return out + line + "\n";
}

std::string options_section(std::span<const option> table) {
    std::string out;
    for (std::span<const option> group : option_groups(table)) {
        out += heading(group) + indented(group.front().help, 8);
    }
    return out;
}

}  // namespace

parse_state::parse_state(cli_command::kind what)
    : output(what == cli_command::run_trace ? &cmd.trace.capture : &cmd.capture) {
    cmd.what = what;
}

void parse_by_table(const command_doc& doc, const std::vector<std::string>& args, parse_state& st) {
    const std::string unknown = doc.subcommand.empty() ? "option " : std::string(doc.subcommand) + " option ";
    arg_walker arg(args, "see " + std::string(doc.command) + " --help");
    while (!st.stop && arg.next()) {
        if (arg.operand()) {
            if (!doc.takes_expression) {
                arg.unknown(unknown);
            }
            st.filter.expression += (st.filter.expression.empty() ? "" : " ") + arg.name();
            continue;
        }
        const option* o = find_option(doc.options, arg.name());
        if (!o) {
            arg.unknown(unknown);
        }
        if (o->value.empty()) {
            arg.flag();
            o->apply(st, arg.name(), "");
        } else {
            const std::string value = arg.value();
            o->apply(st, arg.name(), value);
        }
    }
}

bool parse_filtered_command(const command_doc& doc, const std::vector<std::string>& args, parse_state& st,
                            uint32_t dump_max_snaplen) {
    parse_by_table(doc, args, st);
    if (st.stop) {
        return true;
    }
    st.output->filter = st.filter.finish();
    if (!st.filter.dump) {
        return false;
    }
    // As tcpdump -d: show the compiled program and exit; nothing to capture.
    st.cmd.what = cli_command::dump_filter;
    if (st.output != &st.cmd.capture) {
        st.cmd.capture.filter = st.output->filter;
    }
    st.cmd.capture.snaplen = std::min(st.output->snaplen, dump_max_snaplen);
    return true;
}

std::string spellings(const option& o) {
    if (o.short_name.empty() || o.long_name.empty()) {
        return std::string(o.short_name.empty() ? o.long_name : o.short_name);
    }
    return std::string(o.short_name) + ", " + std::string(o.long_name);
}

std::vector<std::span<const option>> option_groups(std::span<const option> table) {
    std::vector<std::span<const option>> groups;
    for (size_t i = 0; i < table.size();) {
        size_t end = i + 1;
        while (end < table.size() && table[end].help.empty()) {
            ++end;
        }
        groups.push_back(table.subspan(i, end - i));
        i = end;
    }
    return groups;
}

std::string render_help(const command_doc& doc) {
    return "NAME\n    " + std::string(doc.command) + " - " + std::string(doc.summary) + "\n\nSYNOPSIS\n" +
           indented(doc.synopsis, 4) + "\nDESCRIPTION\n" + indented(doc.description, 4) + "\nOPTIONS\n" +
           options_section(doc.options) + "\nEXIT STATUS\n" + indented(doc.exit_status, 4) + "\nEXAMPLES\n" +
           indented(doc.examples, 4);
}

}  // namespace xcap
