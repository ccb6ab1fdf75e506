// xcap installed as cmake --install installs it, driven by tshark itself
// through Wireshark's extcap interface, and the Debian package installed,
// used and removed on this machine. Needs root, tshark, and for the package
// cpack and dpkg; skips with the reason otherwise. Everything goes into the
// test's scratch folder, and the package is removed even when a check fails.
#include <gtest/gtest.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <sstream>

#include "frames.h"
#include "netns_test.h"

using namespace xcap::test;
namespace fs = std::filesystem;

namespace {

// Whether any process runs the program at `exe` (an extcap left behind).
bool running(const std::string& exe) {
    for (const auto& entry : fs::directory_iterator("/proc")) {
        std::error_code ec;
        const fs::path target = fs::read_symlink(entry.path() / "exe", ec);
        if (!ec && target == exe) {
            return true;
        }
    }
    return false;
}

class Extcap : public netns_test {
protected:
    void prepare() override {
        if (!have_tool("tshark") || !have_tool("cmake")) {
            GTEST_SKIP() << "needs tshark and cmake (scripts/setup.sh installs them)";
        }
        prefix = path("prefix");
        const shell_result r = sh("cmake --install " + quote(XCAP_BUILD_DIR) + " --prefix " + quote(prefix));
        ASSERT_EQ(r.status, 0) << r.output;
        entry = prefix + "/" + XCAP_EXTCAP_DIR + "/xcap";
        ASSERT_TRUE(fs::is_symlink(entry)) << entry << " is not the link to xcap";
        ASSERT_EQ(fs::canonical(entry), fs::canonical(prefix + "/bin/xcap"));
        // tshark 4.0 reads a personal extcap folder under HOME/.config
        // (it ignores WIRESHARK_EXTCAP_DIR): point it at the installed one.
        home = path("home");
        fs::create_directories(home + "/.config/wireshark");
        fs::create_directory_symlink(prefix + "/" + XCAP_EXTCAP_DIR, home + "/.config/wireshark/extcap");
    }

    // argv run as Wireshark would, in the receiver's namespace, with the
    // scratch HOME.
    std::vector<std::string> as_wireshark(std::vector<std::string> argv) const {
        argv.insert(argv.begin(), {"env", "-u", "XDG_CONFIG_HOME", "HOME=" + home});
        return net->in_receiver(argv);
    }
    std::string xcap_if() const { return "xcap-" + net->receiver_if(); }

    // Runs the extcap entry with `args`: its exit code; its stdout in `out`.
    int call(std::vector<std::string> args, std::string& out) {
        args.insert(args.begin(), entry);
        std::string err;
        const int rc = run(as_wireshark(args), err, 30, "call");
        out = read_text(path("call.out"));
        return rc;
    }

    // Waits for tshark to end, then checks that nothing of xcap is left.
    void expect_clean_end(child& tshark, const std::string& name) {
        EXPECT_EQ(tshark.wait(30), 0) << read_text(path(name + ".err"));
        EXPECT_TRUE(net->wait_receiver_xdp(false, 10)) << "an XDP program is left on " << net->receiver_if();
        for (int i = 0; i < 50 && running(fs::canonical(prefix + "/bin/xcap")); ++i) {
            usleep(100'000);
        }
        EXPECT_FALSE(running(fs::canonical(prefix + "/bin/xcap"))) << "xcap still runs after tshark ended";
    }

    std::string prefix, entry, home;
};

TEST_F(Extcap, answers_wiresharks_calls) {
    std::string out;
    ASSERT_EQ(call({"--extcap-interfaces", "--extcap-version=4.0"}, out), 0) << read_text(path("call.err"));
    EXPECT_NE(out.find("extcap {version="), std::string::npos) << out;
    EXPECT_NE(out.find("interface {value=" + xcap_if() + "}"), std::string::npos) << out;
    EXPECT_NE(out.find("interface {value=xcap-lo}"), std::string::npos) << out;

    ASSERT_EQ(call({"--extcap-dlts", "--extcap-interface", xcap_if()}, out), 0) << read_text(path("call.err"));
    EXPECT_NE(out.find("dlt {number=1}{name=EN10MB}"), std::string::npos) << out;

    ASSERT_EQ(call({"--extcap-config", "--extcap-interface", xcap_if()}, out), 0);
    for (const char* a : {"{call=--mode}", "{value=tap}", "{value=redirect}", "{call=--snaplen}", "{call=--queues}",
                          "{call=--xdp-mode}"}) {
        EXPECT_NE(out.find(a), std::string::npos) << a << " not in:\n" << out;
    }

    // A filter Wireshark checks: silence when it compiles, a line when not.
    EXPECT_EQ(call({"--extcap-interface", xcap_if(), "--extcap-capture-filter", "udp port 53"}, out), 0);
    EXPECT_EQ(out, "");
    EXPECT_EQ(call({"--extcap-interface", xcap_if(), "--extcap-capture-filter", "udp port (("}, out), 0);
    EXPECT_NE(out.find("syntax error"), std::string::npos) << out;

    EXPECT_EQ(call({"--extcap-dlts", "--extcap-interface", "eth0"}, out), 2);
    EXPECT_NE(read_text(path("call.err")).find("not one of xcap's interfaces"), std::string::npos);
}

TEST_F(Extcap, tshark_lists_an_xcap_interface_for_each_interface) {
    std::string err;
    ASSERT_EQ(run(as_wireshark({"tshark", "-D"}), err, 60, "list"), 0) << err;
    const std::string out = read_text(path("list.out"));
    EXPECT_NE(out.find(". " + xcap_if() + " (xcap: " + net->receiver_if() + " (AF_XDP))"), std::string::npos) << out;
    EXPECT_NE(out.find(". xcap-lo "), std::string::npos) << out;
}

// Received packets only (the dialog's direction setting, as tshark's -o
// passes it): the receiver's own answers to the test's traffic are not
// the test's frames.
TEST_F(Extcap, tshark_captures_count_packets_through_xcap) {
    const uint64_t n = 50;
    std::string pref = "extcap." + xcap_if() + ".direction:in";
    std::replace(pref.begin(), pref.end(), '-', '_');
    child tshark(
        as_wireshark({"tshark", "-i", xcap_if(), "-o", pref, "-c", std::to_string(n), "-w", path("t.pcapng")}),
        path("tshark.out"), path("tshark.err"));
    ASSERT_TRUE(net->wait_receiver_xdp(true, 30)) << read_text(path("tshark.err"));
    send(4 * n, {"--threads", "1", "--pps", "2000"});
    expect_clean_end(tshark, "tshark");
    std::string error;
    const auto packets = read_capture(path("t.pcapng"), &error);
    EXPECT_EQ(packets.size(), n) << error;
    for (const auto& p : packets) {
        EXPECT_TRUE(frame_seq(p.data.data(), p.caplen)) << "a packet that is not the test's traffic";
    }
}

TEST_F(Extcap, the_capture_filter_runs_in_xcaps_xdp_filter) {
    const uint64_t n = 10;
    child tshark(
        as_wireshark({"tshark", "-i", xcap_if(), "-f", "icmp", "-c", std::to_string(n), "-w", path("f.pcapng")}),
        path("tshark.out"), path("tshark.err"));
    ASSERT_TRUE(net->wait_receiver_xdp(true, 30)) << read_text(path("tshark.err"));
    send(12 * n, {"--threads", "1", "--pps", "2000"});
    expect_clean_end(tshark, "tshark");
    const auto packets = read_capture(path("f.pcapng"));
    EXPECT_EQ(packets.size(), n);
    for (const auto& p : packets) {
        const auto seq = frame_seq(p.data.data(), p.caplen);
        ASSERT_TRUE(seq);
        EXPECT_EQ(kind_of(*seq), frame_kind::icmp4) << "frame " << *seq << " passed the filter 'icmp'";
    }
}

TEST_F(Extcap, a_bad_capture_filter_is_reported_and_nothing_attaches) {
    child tshark(as_wireshark({"tshark", "-i", xcap_if(), "-f", "udp port ((", "-c", "1", "-w", path("b.pcapng")}),
                 path("tshark.out"), path("tshark.err"));
    const int rc = tshark.wait(30);
    EXPECT_NE(rc, 0);
    EXPECT_NE(rc, -1) << "tshark did not end";
    EXPECT_NE(read_text(path("tshark.err")).find("syntax error"), std::string::npos) << read_text(path("tshark.err"));
    EXPECT_FALSE(net->receiver_has_xdp());
}

TEST_F(Extcap, stops_with_tshark_on_a_quiet_interface) {
    child tshark(as_wireshark({"tshark", "-i", xcap_if(), "-a", "duration:2", "-w", path("q.pcapng")}),
                 path("tshark.out"), path("tshark.err"));
    ASSERT_TRUE(net->wait_receiver_xdp(true, 30)) << read_text(path("tshark.err"));
    expect_clean_end(tshark, "tshark");
}

TEST_F(Extcap, redirect_mode_and_settings_from_the_config_dialog) {
    // What Wireshark passes when the dialog's settings differ from their
    // defaults: the extcap capture call, driven here directly.
    const std::string fifo = path("fifo");
    ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
    child x(as_wireshark({entry, "--capture", "--extcap-interface", xcap_if(), "--fifo", fifo, "--mode", "redirect",
                          "--snaplen", "64", "--queues", "0-1"}),
            path("x.out"), path("x.err"));
    child reader(net->in_receiver({"tshark", "-r", fifo, "-c", "20", "-w", path("r.pcapng")}), path("r.out"),
                 path("r.err"));
    ASSERT_TRUE(net->wait_receiver_xdp(true, 30)) << read_text(path("x.err"));
    send(60, {"--threads", "1", "--pps", "2000"});
    EXPECT_EQ(reader.wait(30), 0) << read_text(path("r.err"));
    // The reader has gone: xcap sees the FIFO closed and stops by itself.
    EXPECT_EQ(x.wait(15), 0) << read_text(path("x.err"));
    EXPECT_EQ(read_text(path("x.err")), "");
    EXPECT_FALSE(net->receiver_has_xdp());
    const auto packets = read_capture(path("r.pcapng"));
    ASSERT_EQ(packets.size(), 20u);
    for (const auto& p : packets) {
        EXPECT_LE(p.caplen, 64u);
    }
}

// The Debian package: built by cpack from this build, installed with dpkg
// on this machine, used from /usr/bin, and removed, leaving none of its
// files. The guard removes it whatever happens in between.
class Package : public netns_test {
protected:
    void prepare() override {
        if (!have_tool("dpkg") || !have_tool("cpack") || !have_tool("dpkg-shlibdeps")) {
            GTEST_SKIP() << "needs dpkg, cpack and dpkg-shlibdeps (dpkg-dev; scripts/setup.sh installs it)";
        }
        if (installed()) {
            GTEST_SKIP() << "a package named xcap is installed already: left alone";
        }
    }
    void TearDown() override {
        if (_installed_here && installed()) {
            dpkg("--purge xcap");
        }
    }

    static bool installed() {
        return sh("dpkg-query -W -f='${Status}' xcap 2>/dev/null").output.find("install ok installed") !=
               std::string::npos;
    }
    // dpkg waits for no lock: retried while another dpkg or apt holds it.
    static shell_result dpkg(const std::string& args) {
        shell_result r;
        for (int i = 0; i < 60; ++i) {
            r = sh("dpkg " + args);
            if (r.status == 0 || r.output.find("lock") == std::string::npos) {
                break;
            }
            sleep(2);
        }
        return r;
    }

    bool _installed_here = false;
};

TEST_F(Package, installs_runs_from_usr_bin_and_removes_cleanly) {
    const std::string out = path("pkg");
    const shell_result built = sh("cd " + quote(XCAP_BUILD_DIR) + " && cpack -G DEB -B " + quote(out));
    ASSERT_EQ(built.status, 0) << built.output;
    const std::string deb = out + "/xcap_" + XCAP_VERSION + "_amd64.deb";
    ASSERT_TRUE(file_exists(deb)) << built.output;
    const std::string depends = sh("dpkg-deb -f " + quote(deb) + " Depends").output;
    for (const char* lib : {"libxdp1", "libbpf1", "libpcap0.8"}) {
        EXPECT_NE(depends.find(lib), std::string::npos) << lib << " not in Depends: " << depends;
    }

    _installed_here = true;
    const shell_result in = dpkg("-i " + quote(deb));
    ASSERT_EQ(in.status, 0) << in.output;
    EXPECT_EQ(sh("/usr/bin/xcap --version").output, std::string("xcap ") + XCAP_VERSION + "\n");
    EXPECT_TRUE(fs::is_symlink("/usr/" XCAP_EXTCAP_DIR "/xcap"));
    EXPECT_TRUE(file_exists("/usr/share/man/man1/xcap.1"));
    const std::vector<std::string> files = [] {
        std::vector<std::string> v;
        std::istringstream s(sh("dpkg -L xcap").output);
        for (std::string line; std::getline(s, line);) {
            v.push_back(line);
        }
        return v;
    }();

    child x(net->in_receiver({"/usr/bin/xcap", "-i", net->receiver_if(), "-c", "20", "-q", "-w", path("p.pcap")}),
            path("x.out"), path("x.err"));
    ASSERT_TRUE(net->wait_receiver_xdp(true, 20)) << read_text(path("x.err"));
    send(60, {"--threads", "1", "--pps", "2000"});
    EXPECT_EQ(x.wait(30), 0) << read_text(path("x.err"));
    EXPECT_EQ(read_capture(path("p.pcap")).size(), 20u);

    const shell_result removed = dpkg("-r xcap");
    ASSERT_EQ(removed.status, 0) << removed.output;
    EXPECT_FALSE(installed());
    for (const std::string& f : files) {
        if (!fs::is_directory(f)) {
            EXPECT_FALSE(fs::exists(fs::symlink_status(f))) << f << " is left after dpkg -r";
        }
    }
}

}  // namespace
