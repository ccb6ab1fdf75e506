#include "cli/man_page.h"

#include <cctype>
#include <vector>

namespace xcap {
namespace {

struct text_line {
    size_t indent = 0;
    std::string_view text;  // without its indentation
};

using paragraph = std::vector<text_line>;

// Paragraphs are separated by blank lines (whitespace only counts as blank).
std::vector<paragraph> paragraphs(std::string_view text) {
    std::vector<paragraph> out(1);
    while (!text.empty()) {
        const size_t end = text.find('\n');
        std::string_view line = text.substr(0, end);
        text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
        const size_t indent = line.find_first_not_of(' ');
        if (indent == std::string_view::npos) {
            if (!out.back().empty()) {
                out.emplace_back();
            }
            continue;
        }
        out.back().push_back({indent, line.substr(indent)});
    }
    if (out.back().empty()) {
        out.pop_back();
    }
    return out;
}

// Characters troff reads as escapes, and a leading . or ' (a request).
// Every '-' becomes \- so that options read and search as typed.
std::string escaped(std::string_view s) {
    std::string out;
    if (!s.empty() && (s.front() == '.' || s.front() == '\'')) {
        out += "\\&";
    }
    for (char c : s) {
        if (c == '\\') {
            out += "\\e";
        } else if (c == '-') {
            out += "\\-";
        } else {
            out += c;
        }
    }
    return out;
}

// "TAG  text": a word, then two spaces or more.
bool tagged_line(std::string_view s, std::string_view* tag, std::string_view* rest) {
    const size_t gap = s.find("  ");
    if (gap == std::string_view::npos || gap == 0 || s.substr(0, gap).find(' ') != std::string_view::npos) {
        return false;
    }
    const size_t start = s.find_first_not_of(' ', gap);
    if (start == std::string_view::npos) {
        return false;
    }
    *tag = s.substr(0, gap);
    *rest = s.substr(start);
    return true;
}

bool tagged_list(const paragraph& p) {
    std::string_view tag, rest;
    for (const text_line& l : p) {
        if (l.indent == p.front().indent && !tagged_line(l.text, &tag, &rest)) {
            return false;
        }
    }
    return true;
}

std::string render_tagged(const paragraph& p) {
    std::string out;
    for (const text_line& l : p) {
        std::string_view tag, rest;
        if (l.indent == p.front().indent && tagged_line(l.text, &tag, &rest)) {
            out += ".TP 4\n" + escaped(tag) + "\n" + escaped(rest) + "\n";
        } else {
            out += escaped(l.text) + "\n";
        }
    }
    return out;
}

// Refilled lines, with the lines laid out by hand kept in .nf blocks.
std::string render_filled(const paragraph& p) {
    std::string out;
    bool kept = false;
    for (const text_line& l : p) {
        const bool laid_out = l.indent > p.front().indent;
        if (laid_out != kept) {
            out += laid_out ? ".nf\n" : ".fi\n";
            kept = laid_out;
        }
        out += laid_out ? std::string(l.indent - p.front().indent, ' ') + escaped(l.text) : escaped(l.text);
        out += "\n";
    }
    return out + (kept ? ".fi\n" : "");
}

// `text`'s paragraphs, the first after `first` (".PP" in a section, ""
// right after a .TP tag) and the others after `next` (".PP", or ".IP" to
// stay at a .TP's indentation).
std::string render_paragraphs(std::string_view text, std::string_view first, std::string_view next) {
    std::string out;
    bool start = true;
    for (const paragraph& p : paragraphs(text)) {
        const std::string_view macro = start ? first : next;
        if (!macro.empty()) {
            out += std::string(macro) + "\n";
        }
        out += tagged_list(p) ? render_tagged(p) : render_filled(p);
        start = false;
    }
    return out;
}

std::string verbatim(std::string_view text) {
    std::string out = ".PP\n.RS 4\n.nf\n";
    for (const paragraph& p : paragraphs(text)) {
        for (const text_line& l : p) {
            out += std::string(l.indent, ' ') + escaped(l.text) + "\n";
        }
    }
    return out + ".fi\n.RE\n";
}

std::string section(std::string_view title, std::string_view body) {
    return ".SH \"" + std::string(title) + "\"\n" + std::string(body);
}

std::string extra_sections(std::span<const man_section> sections) {
    std::string out;
    for (const man_section& s : sections) {
        out += section(s.title, s.verbatim ? verbatim(s.text) : troff_text(s.text));
    }
    return out;
}

std::string options_section(std::span<const option> table) {
    std::string out;
    for (std::span<const option> group : option_groups(table)) {
        out += ".TP\n";
        for (const option& o : group) {
            out += (&o == &group.front() ? "" : ", ") + troff_option_heading(o);
        }
        out += "\n" + render_paragraphs(group.front().help, "", ".IP");
    }
    return out;
}

std::string upper(std::string_view s) {
    std::string out(s);
    for (char& c : out) {
        c = char(std::toupper(static_cast<unsigned char>(c)));
    }
    return out;
}

}  // namespace

std::string man_page_name(const command_doc& doc) {
    std::string name(doc.command);
    for (char& c : name) {
        if (c == ' ') {
            c = '-';
        }
    }
    return name;
}

std::string troff_text(std::string_view text) { return render_paragraphs(text, ".PP", ".PP"); }

std::string troff_option_heading(const option& o) {
    std::string out;
    for (std::string_view s : {o.short_name, o.long_name}) {
        if (!s.empty()) {
            out += (out.empty() ? "" : ", ") + std::string("\\fB") + escaped(s) + "\\fR";
        }
    }
    if (!o.value.empty()) {
        out += " \\fI" + escaped(o.value) + "\\fR";
    }
    return out;
}

std::string render_man_page(const command_doc& doc, std::string_view version,
                            std::span<const man_section> before_examples, std::span<const man_section> after_examples) {
    const std::string name = man_page_name(doc);
    std::string out = ".TH " + upper(escaped(name)) + " 1 \"\" \"xcap " + std::string(version) +
                      "\" \"User Commands\"\n";
    // Left-aligned and unhyphenated: option names, counters and paths
    // split at a hyphen read as something else.
    out += ".ad l\n.nh\n";
    out += section("NAME", escaped(name) + " \\- " + escaped(doc.summary) + "\n");
    out += section("SYNOPSIS", verbatim(doc.synopsis));
    out += section("DESCRIPTION", troff_text(doc.description));
    out += section("OPTIONS", options_section(doc.options));
    out += section("EXIT STATUS", troff_text(doc.exit_status));
    out += extra_sections(before_examples);
    out += section("EXAMPLES", verbatim(doc.examples));
    return out + extra_sections(after_examples);
}

}  // namespace xcap
