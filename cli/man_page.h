#pragma once

#include <span>
#include <string>
#include <string_view>

#include "cli/option_table.h"

// Renders a subcommand's manual (cli/option_table.h command_doc) as a troff
// man(7) page, following the tables' text conventions: paragraphs are
// refilled, lines indented further than their paragraph's first line are
// kept as they are (.nf), and a paragraph whose every line at its own
// indentation reads "TAG  text" is a tagged list (.TP), as EXIT STATUS is.
// Pure functions over constant data; used at build time by xcap-man
// (cli/xcap_man.cc) and by the tests.
namespace xcap {

// A section of a page that --help does not show (FILES, SEE ALSO, ...),
// written in the same conventions; `verbatim` keeps every line as it is.
struct man_section {
    std::string_view title;
    std::string_view text;
    bool verbatim = false;
};

// The page's name in NAME and .TH: "xcap", "xcap-replay".
std::string man_page_name(const command_doc& doc);

// The whole page: NAME, SYNOPSIS, DESCRIPTION, OPTIONS, EXIT STATUS, then
// `before_examples` (ENVIRONMENT, FILES, NOTES, ...), EXAMPLES, then
// `after_examples` (SEE ALSO), as man-pages(7) orders them. `version`
// goes into the footer.
std::string render_man_page(const command_doc& doc, std::string_view version,
                            std::span<const man_section> before_examples, std::span<const man_section> after_examples);

// One text in troff: the conventions above, characters troff would read
// as requests or escapes made literal.
std::string troff_text(std::string_view text);

// The man(7) spelling of an option's spellings and value:
// "\fB\-i\fR, \fB\-\-interface\fR \fIINTERFACE\fR".
std::string troff_option_heading(const option& o);

}  // namespace xcap
