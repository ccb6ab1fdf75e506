#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>

#include "cli/console.h"

using namespace xcap;

namespace {

// What a console prints, captured through open_memstream.
class printed {
public:
    printed() : _f(open_memstream(&_buf, &_size)) {}
    ~printed() {
        std::fclose(_f);
        std::free(_buf);
    }
    FILE* stream() const { return _f; }
    std::string text() {
        std::fflush(_f);
        return std::string(_buf, _size);
    }

private:
    char* _buf = nullptr;
    size_t _size = 0;
    FILE* _f;
};

}  // namespace

// tcpdump's -q quiets setup chatter; --stats was asked for, so it prints.
TEST(Console, QuietDropsSetupLinesButNotStats) {
    printed out;
    console quiet(true, out.stream());
    quiet.printer(line_kind::setup)("queue 0: copy mode");
    quiet.printer(line_kind::stats)("850 pps, 0.7 Mbps");
    quiet.print_all("2 packets captured\n0 packets dropped\n");
    EXPECT_EQ(out.text(), "xcap: 850 pps, 0.7 Mbps\nxcap: 2 packets captured\nxcap: 0 packets dropped\n");
}

TEST(Console, WithoutQuietEverythingPrints) {
    printed out;
    console loud(false, out.stream());
    loud.print(line_kind::setup, "queue 0: copy mode");
    loud.print(line_kind::stats, "850 pps");
    EXPECT_EQ(out.text(), "xcap: queue 0: copy mode\nxcap: 850 pps\n");
    EXPECT_TRUE(shown(line_kind::stats, true));
    EXPECT_FALSE(shown(line_kind::setup, true));
    EXPECT_TRUE(shown(line_kind::warning, true)) << "a failed -z command is reported under -q too";
}
