// Files xcap writes are accepted by capinfos, tshark and tcpdump, with the
// pcapng fields read back by value; and the real captures in
// ../shared/testdata are read exactly as tcpdump reads them.
#include <gtest/gtest.h>

#include <regex>
#include <sstream>

#include "pcap/reader.h"
#include "pcap/savefile.h"
#include "tools.h"

using namespace xcap;
using namespace xcap::test;

namespace {

constexpr uint64_t t0 = 1'790'000'000'123'456'789ull;

// Writes 50 packets with known metadata.
void write_sample(const savefile_config& cfg) {
    interface_description iface;
    iface.name = "xcap0";
    iface.description = "test queues";
    iface.hardware = "driver test 1.0";
    iface.speed_bps = 25'000'000'000ull;
    iface.snaplen = 1000;
    savefile_set files(cfg, section_description{"Test CPU", "Linux test", "xcap test"}, {iface});
    files.set_statistics_source([] { return std::vector<interface_statistics>{{0, 0, 57, 7}}; });
    for (uint32_t i = 0; i < 50; ++i) {
        std::vector<uint8_t> p(60 + i * 20, 0);
        p[12] = 0x08;  // IPv4 ethertype; the rest zero (tshark calls it malformed, which is fine)
        packet_meta m;
        m.queue = i % 4;
        m.packet_id = 1000 + i;
        m.dropcount = i == 10 ? 7 : 0;
        m.xdp_verdict = 4;
        files.write(t0 + uint64_t(i) * 1'000'000, p.data(), uint32_t(p.size()), m);
    }
    files.close();
}

class Interop : public ::testing::TestWithParam<std::tuple<file_format, bool>> {
protected:
    void SetUp() override {
        for (const char* tool : {"tcpdump", "tshark", "capinfos"}) {
            if (!have_tool(tool)) {
                GTEST_SKIP() << tool << " is not installed (scripts/setup.sh installs it)";
            }
        }
    }
    temp_dir dir;
};

}  // namespace

TEST_P(Interop, ToolsAcceptTheFile) {
    auto [format, nano] = GetParam();
    savefile_config cfg;
    cfg.path = dir.file(format == file_format::pcapng ? "s.pcapng" : "s.pcap");
    cfg.format = format;
    cfg.nanosecond = nano;
    write_sample(cfg);
    std::string f = shell_quote(cfg.path);

    auto tcpdump = run_command("tcpdump -n -r " + f);
    EXPECT_EQ(tcpdump.status, 0) << tcpdump.output;
    EXPECT_EQ(std::count(tcpdump.output.begin(), tcpdump.output.end(), '\n'), 51) << tcpdump.output;  // + header line

    auto caps = run_command("capinfos -c -u -a " + f);
    EXPECT_EQ(caps.status, 0) << caps.output;
    EXPECT_NE(caps.output.find("Number of packets:   50"), std::string::npos) << caps.output;

    auto tshark = run_command("tshark -r " + f + " -T fields -e frame.len -e frame.cap_len -e frame.time_epoch");
    ASSERT_EQ(tshark.status, 0) << tshark.output;
    std::istringstream rows(tshark.output);
    std::string line;
    int i = 0;
    while (std::getline(rows, line)) {
        if (line.find("Running as user") != std::string::npos) {
            continue;
        }
        std::istringstream cols(line);
        uint32_t len, caplen;
        std::string epoch;
        cols >> len >> caplen >> epoch;
        EXPECT_EQ(len, 60u + uint32_t(i) * 20);
        EXPECT_EQ(caplen, std::min(1000u, len));
        uint64_t ts = t0 + uint64_t(i) * 1'000'000;
        char want[64];
        if (nano) {
            snprintf(want, sizeof(want), "%llu.%09llu", (unsigned long long)(ts / 1'000'000'000),
                     (unsigned long long)(ts % 1'000'000'000));
        } else {
            snprintf(want, sizeof(want), "%llu.%06llu", (unsigned long long)(ts / 1'000'000'000),
                     (unsigned long long)(ts % 1'000'000'000 / 1000));
        }
        EXPECT_EQ(epoch.rfind(want, 0), 0u) << epoch << " vs " << want;
        ++i;
    }
    EXPECT_EQ(i, 50);
}

class InteropPcapng : public Interop {};

TEST_P(InteropPcapng, FieldsByValue) {
    auto [format, nano] = GetParam();
    savefile_config cfg;
    cfg.path = dir.file("f.pcapng");
    cfg.format = format;
    cfg.nanosecond = nano;
    write_sample(cfg);
    auto r = run_command("tshark -r " + shell_quote(cfg.path) +
                         " -T fields -E separator=, -e frame.interface_queue -e frame.packet_id"
                         " -e frame.verdict.ebpf_xdp -e frame.drop_count -e frame.interface_name");
    ASSERT_EQ(r.status, 0) << r.output;
    std::istringstream rows(r.output);
    std::string line;
    int i = 0;
    while (std::getline(rows, line)) {
        if (line.find("Running as user") != std::string::npos) {
            continue;
        }
        std::string want = std::to_string(i % 4) + "," + std::to_string(1000 + i) + ",4," +
                           (i == 10 ? "7" : "") + ",xcap0";
        EXPECT_EQ(line, want) << "packet " << i;
        ++i;
    }
    EXPECT_EQ(i, 50);
    auto caps = run_command("capinfos " + shell_quote(cfg.path));
    for (const char* s : {"Name = xcap0", "Description = test queues", "Hardware = driver test 1.0",
                          "Speed = 25000000000", "Capture hardware:    Test CPU", "Capture oper-sys:    Linux test",
                          "Capture application: xcap test", "Number of stat entries = 1"}) {
        EXPECT_NE(caps.output.find(s), std::string::npos) << s << " in\n" << caps.output;
    }
    EXPECT_NE(caps.output.find(nano ? "Time precision = nanoseconds (9)" : "Time precision = microseconds (6)"),
              std::string::npos)
        << caps.output;
}

INSTANTIATE_TEST_SUITE_P(Files, Interop,
                         ::testing::Combine(::testing::Values(file_format::pcap, file_format::pcapng),
                                            ::testing::Bool()),
                         [](const auto& info) {
                             return std::string(std::get<0>(info.param) == file_format::pcap ? "pcap" : "pcapng") +
                                    (std::get<1>(info.param) ? "_nano" : "_micro");
                         });

INSTANTIATE_TEST_SUITE_P(Files, InteropPcapng,
                         ::testing::Combine(::testing::Values(file_format::pcapng), ::testing::Bool()),
                         [](const auto& info) { return std::string(std::get<1>(info.param) ? "nano" : "micro"); });

// The real captures of ../shared/testdata (see its README), each read by the
// reader and by tcpdump: the same packets, or the same failure after the
// same packets.
TEST(SharedTestdata, ReadExactlyAsTcpdumpReadsThem) {
    const std::string root = XCAP_TESTDATA_DIR "/tcpdump-tests";
    const auto files = capture_files(root);
    if (files.empty()) {
        GTEST_SKIP() << root << " is absent (../shared is not beside the project)";
    }
    if (!have_tool("tcpdump")) {
        GTEST_SKIP() << "tcpdump is not installed";
    }
    ASSERT_GE(files.size(), 200u);
    temp_dir dir;
    size_t packets = 0, failing = 0;
    for (const auto& name : files) {
        SCOPED_TRACE(name);
        const std::string path = root + "/" + name;
        const std::string copy = dir.file("copy.pcap");
        auto td = run_command("tcpdump --time-stamp-precision=nano -r " + shell_quote(path) + " -w " + shell_quote(copy));
        std::vector<std::tuple<uint64_t, uint32_t, std::vector<uint8_t>>> theirs, ours;
        {
            capture_reader c(copy);
            read_packet p;
            while (c.next(p)) {
                theirs.emplace_back(p.ts_ns, p.len, std::vector<uint8_t>(p.data, p.data + p.caplen));
            }
        }
        bool failed = false;
        try {
            capture_reader r(path);
            read_packet p;
            while (r.next(p)) {
                ours.emplace_back(p.ts_ns, p.len, std::vector<uint8_t>(p.data, p.data + p.caplen));
            }
        } catch (const read_error& e) {
            failed = true;
            EXPECT_EQ(std::string(e.what()).rfind(path + ": ", 0), 0u) << e.what();
        }
        EXPECT_EQ(failed, td.status != 0) << td.output;
        ASSERT_EQ(ours.size(), theirs.size());
        // tcpdump's copy is classic pcap, whose seconds field has 32 bits
        // (and which libpcap sign-extends): compare both sides' seconds as
        // such a field holds them. The time_20xx files need this.
        for (auto* side : {&ours, &theirs}) {
            for (auto& [ts, len, data] : *side) {
                int64_t sec = int64_t(ts) / 1'000'000'000 - (int64_t(ts) % 1'000'000'000 < 0 ? 1 : 0);
                int64_t frac = int64_t(ts) - sec * 1'000'000'000;
                ts = uint64_t(uint32_t(sec)) * 1'000'000'000 + uint64_t(frac);
            }
        }
        EXPECT_TRUE(ours == theirs);
        packets += ours.size();
        failing += failed;
    }
    RecordProperty("packets", int(packets));
    std::printf("read %zu packets from %zu files (%zu end in an error, as with tcpdump)\n", packets, files.size(),
                failing);
}
