// The manual pages as the build renders them (XCAP_MAN_DIR), against the
// --help they come from, and the troff the renderer writes.
#include <gtest/gtest.h>

#include <regex>
#include <set>
#include <sstream>

#include "cli/extcap.h"
#include "cli/man_page.h"
#include "cli/options.h"
#include "cli/subcommands.h"
#include "tools.h"

using namespace xcap;

namespace {

std::set<std::string> long_options_in(const std::string& text) {
    std::set<std::string> out;
    const std::regex long_option("(^|[^a-z0-9-])(--[a-z][a-z0-9-]*)");
    for (std::sregex_iterator it(text.begin(), text.end(), long_option), end; it != end; ++it) {
        out.insert((*it)[2]);
    }
    return out;
}

// The OPTIONS section of --help: the spellings in its option headings
// (4 spaces, then a dash; a value's name never starts with one).
std::set<std::string> heading_options(const std::string& help) {
    std::set<std::string> out;
    const size_t start = help.find("\nOPTIONS\n");
    const size_t end = help.find("\nEXIT STATUS\n");
    std::istringstream lines(help.substr(start, end - start));
    for (std::string line; std::getline(lines, line);) {
        if (line.rfind("    -", 0) != 0) {
            continue;
        }
        std::istringstream words(line);
        for (std::string w; words >> w;) {
            if (w.front() == '-') {
                out.insert(w.back() == ',' ? w.substr(0, w.size() - 1) : w);
            }
        }
    }
    return out;
}

std::string troff_spelling(const std::string& option) {
    return std::regex_replace(option, std::regex("-"), "\\-");
}

struct page_case {
    const command_doc& (*doc)();
    const char* file;
};

void expect_page_holds_help(const page_case& c) {
    const std::string help = render_help(c.doc());
    const std::string page = xcap::test::read_text(std::string(XCAP_MAN_DIR) + "/" + c.file);
    ASSERT_FALSE(page.empty()) << "no page " << XCAP_MAN_DIR << "/" << c.file;
    for (const std::string& o : long_options_in(help)) {
        EXPECT_NE(page.find(troff_spelling(o)), std::string::npos) << c.file << " never names " << o;
    }
    const std::set<std::string> headings = heading_options(help);
    EXPECT_GT(headings.size(), 5u);
    for (const std::string& o : headings) {
        EXPECT_NE(page.find("\\fB" + troff_spelling(o) + "\\fR"), std::string::npos)
            << c.file << " has no option heading for " << o;
    }
    for (const char* s : {".SH \"NAME\"", ".SH \"SYNOPSIS\"", ".SH \"DESCRIPTION\"", ".SH \"OPTIONS\"",
                          ".SH \"EXIT STATUS\"", ".SH \"EXAMPLES\"", ".SH \"SEE ALSO\""}) {
        EXPECT_NE(page.find(s), std::string::npos) << c.file << " lacks " << s;
    }
}

}  // namespace

TEST(man_page, every_option_of_capture_help_is_in_xcap_1) { expect_page_holds_help({capture_doc, "xcap.1"}); }
TEST(man_page, every_option_of_replay_help_is_in_xcap_replay_1) {
    expect_page_holds_help({replay_doc, "xcap-replay.1"});
}
TEST(man_page, every_option_of_trace_help_is_in_xcap_trace_1) { expect_page_holds_help({trace_doc, "xcap-trace.1"}); }

TEST(man_page, xcap_1_has_the_sections_help_leaves_out) {
    const std::string page = xcap::test::read_text(std::string(XCAP_MAN_DIR) + "/xcap.1");
    for (const char* s : {".SH \"FILES\"", ".SH \"PCAPNG FIELDS\"", ".SH \"REQUIREMENTS\"", ".SH \"WIRESHARK\"",
                          "epb_queue", "\\-\\-extcap\\-interfaces", "zero\\-copy"}) {
        EXPECT_NE(page.find(s), std::string::npos) << "xcap.1 lacks " << s;
    }
}

TEST(man_page, requests_and_escapes_in_text_are_literal) {
    EXPECT_EQ(troff_text(".hidden request\n'another\nback\\slash"),
              ".PP\n\\&.hidden request\n\\&'another\nback\\eslash\n");
}

TEST(man_page, lines_laid_out_by_hand_stay_as_they_are) {
    EXPECT_EQ(troff_text("A list:\n    one\n        two\nand after."),
              ".PP\nA list:\n.nf\n    one\n        two\n.fi\nand after.\n");
}

TEST(man_page, tag_and_text_lines_make_a_tagged_list) {
    EXPECT_EQ(troff_text("0  fine\n1  failed while\n   running"),
              ".PP\n.TP 4\n0\nfine\n.TP 4\n1\nfailed while\nrunning\n");
    // One space after the first word is prose, refilled.
    EXPECT_EQ(troff_text("0 sent; 2 bad option;\n3 no interface"), ".PP\n0 sent; 2 bad option;\n3 no interface\n");
}

TEST(man_page, option_heading_names_spellings_and_value) {
    const option o{"-i", "--interface", "INTERFACE", "help", nullptr};
    EXPECT_EQ(troff_option_heading(o), "\\fB\\-i\\fR, \\fB\\-\\-interface\\fR \\fIINTERFACE\\fR");
}

TEST(extcap, only_wiresharks_calls_enter_extcap_mode) {
    EXPECT_TRUE(is_extcap_call({"--extcap-interfaces", "--extcap-version=4.0"}));
    EXPECT_TRUE(is_extcap_call({"--extcap-version=4.0", "--extcap-interfaces"}));
    EXPECT_TRUE(is_extcap_call({"--capture", "--extcap-interface", "xcap-eth0", "--fifo", "/tmp/f"}));
    EXPECT_TRUE(is_extcap_call({"--extcap-interface", "xcap-eth0", "--extcap-capture-filter", "udp"}));
    EXPECT_FALSE(is_extcap_call({}));
    EXPECT_FALSE(is_extcap_call({"-i", "eth0", "-w", "x.pcap"}));
    EXPECT_FALSE(is_extcap_call({"--extcap-nonsense"}));
    EXPECT_FALSE(is_extcap_call({"replay", "--capture"}));
}
