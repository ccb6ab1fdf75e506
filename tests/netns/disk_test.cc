// Capture to a disk on the direct-I/O path (--buffer-len): a small ext4
// file system the test makes (mkfs.ext4 on a file, mounted through a loop
// device) and removes again, passed or failed. Rotation keeps every packet
// in files of exact length that read to their end; a full disk stops at
// the last whole record with the count exact. Needs root and loop devices;
// skips with the reason otherwise.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "netns_test.h"

using namespace xcap::test;

namespace {

// An ext4 file system of `mib` MiB on a loop device, mounted at
// dir/NAME (default mnt) while this lives: without a journal unless
// `journal`, with the mount options `options` besides loop, and the
// default mount options `defaults` (tune2fs -o).
class loop_ext4 {
public:
    loop_ext4(const std::string& dir, unsigned mib, bool journal = false, const std::string& options = "",
              const std::string& name = "mnt", const std::string& defaults = "")
        : _image(dir + "/" + name + ".img"), _mnt(dir + "/" + name) {
        if (access("/dev/loop-control", F_OK) != 0) {
            _why = "no loop devices (/dev/loop-control is missing)";
            return;
        }
        if (!have_tool("mkfs.ext4")) {
            _why = "mkfs.ext4 is not installed (e2fsprogs)";
            return;
        }
        auto r = run_command("truncate -s " + std::to_string(mib) + "M " + shell_quote(_image) +
                             " && mkfs.ext4 -q -F -b 4096 " + (journal ? "" : "-O ^has_journal ") +
                             shell_quote(_image) + " 2>&1");
        if (r.status != 0) {
            _why = "mkfs.ext4 failed: " + r.output;
            return;
        }
        if (!defaults.empty()) {
            r = run_command("tune2fs -o " + defaults + " " + shell_quote(_image) + " 2>&1");
            if (r.status != 0) {
                _why = "tune2fs failed: " + r.output;
                return;
            }
        }
        mkdir(_mnt.c_str(), 0755);
        r = run_command("mount -o loop" + (options.empty() ? "" : "," + options) + " " + shell_quote(_image) + " " +
                        shell_quote(_mnt) + " 2>&1");
        if (r.status != 0) {
            _why = "mount -o loop failed (loop devices unavailable?): " + r.output;
            return;
        }
        _mounted = true;
    }
    ~loop_ext4() {
        if (_mounted && umount(_mnt.c_str()) != 0) {
            umount2(_mnt.c_str(), MNT_DETACH);  // busy: detach now, gone when the last user is
        }
        rmdir(_mnt.c_str());
        unlink(_image.c_str());
    }
    loop_ext4(const loop_ext4&) = delete;
    loop_ext4& operator=(const loop_ext4&) = delete;

    bool ok() const { return _mounted; }
    const std::string& why() const { return _why; }
    std::string file(const std::string& name) const { return _mnt + "/" + name; }

private:
    std::string _image;
    std::string _mnt;
    std::string _why;
    bool _mounted = false;
};

class Disk : public netns_test {
protected:
    void prepare() override {
        disk = std::make_unique<loop_ext4>(scratch.path(), mib());
        if (!disk->ok()) {
            GTEST_SKIP() << disk->why();
        }
    }
    virtual unsigned mib() const { return 64; }
    // Destroyed before the scratch directory the image is in.
    void TearDown() override { disk.reset(); }

    std::unique_ptr<loop_ext4> disk;
};

class FullDisk : public Disk {
protected:
    unsigned mib() const override { return 8; }

    static constexpr uint64_t sent = 20000;

    // 20000 frames of the mix (about 14 MB) sent to xcap with `args`
    // writing into the 8 MiB file system, then SIGINT: xcap exits 1 and
    // says the disk is full. Returns what it wrote on stderr.
    std::string fill_up(const std::vector<std::string>& args, const std::string& name) {
        child x = start(xcap(args), name, "queue 1:");
        send(sent, {"--threads", "1", "--pps", "40000"});
        usleep(500'000);
        x.signal(SIGINT);
        EXPECT_EQ(x.wait(30), 1);
        const std::string err = read_text(path(name + ".err"));
        EXPECT_NE(err.find("No space left on device"), std::string::npos) << err;
        return err;
    }
};

uint64_t packets_in(const std::string& file) {
    std::string error;
    auto recs = read_capture(file, &error);
    EXPECT_EQ(error, "") << file << " must read to its end";
    return recs.size();
}

}  // namespace

// -C on the direct path: every file at most 1 MB, each ends on a whole
// record (libpcap and tcpdump read it to its end), and together they hold
// every packet sent, as the summary counts them. A rotation leaves the
// finished file to the disk thread; its -z command still runs once it is
// written, while the capture goes on, not at the end.
TEST_F(Disk, RotationOnDirectIoKeepsEveryPacket) {
    child x = start(xcap({"-v", "-C", "1", "-z", "f() { stat -c %s \"$1\" > \"$1.z\"; }; f", "-w",
                          disk->file("r.pcap")}),
                    "r", "queue 1:");
    const uint64_t sent = 20000;
    send(sent, {"--threads", "1", "--pps", "40000"});
    usleep(500'000);
    size_t rotated = 0;
    while (file_exists(disk->file("r.pcap" + std::to_string(rotated + 1)))) {
        const std::string f = disk->file("r.pcap" + (rotated ? std::to_string(rotated) : ""));
        EXPECT_TRUE(file_exists(f + ".z")) << "-z has not run on " << f << " while xcap runs";
        ++rotated;
    }
    EXPECT_GE(rotated, 2u);
    x.signal(SIGINT);
    ASSERT_EQ(x.wait(30), 0) << read_text(path("r.err"));
    const std::string err = read_text(path("r.err"));
    EXPECT_NE(err.find("r.pcap: direct I/O"), std::string::npos) << "-v says how the file is written:\n" << err;
    uint64_t total = 0;
    size_t files = 0;
    for (size_t k = 0;; ++k) {
        const std::string f = disk->file("r.pcap" + (k ? std::to_string(k) : ""));
        if (!file_exists(f)) {
            break;
        }
        ++files;
        EXPECT_LE(file_size(f), 1'000'000u) << f;
        EXPECT_EQ(read_text(f + ".z"), std::to_string(file_size(f)) + "\n") << "-z saw " << f << " unfinished";
        total += packets_in(f);
        if (have_tool("tcpdump")) {
            auto t = run_command("tcpdump -r " + shell_quote(f) + " -w /dev/null 2>&1");
            EXPECT_EQ(t.status, 0) << f << ": " << t.output;
        }
    }
    EXPECT_GE(files, 3u);
    EXPECT_EQ(total, sent);
    EXPECT_EQ(number_in(err, "([0-9]+) packets? captured"), sent);
}

// -v says when the file system can stall the writer: ext4 without a
// journal, mounted with discard (as a mount option, or as the file
// system's default), discards the blocks it frees before the write that
// freed them returns (docs/disk.md). Not with a journal (the discards wait
// for the commit, in the journal's thread), not without discard.
TEST_F(Disk, VerboseSaysWhenDiscardsCanStallTheWriter) {
    const std::string caveat = "ext4 without a journal, mounted with discard";
    struct fs_case {
        bool journal;
        std::string options;
        std::string defaults;
        bool said;
    };
    int i = 0;
    for (const fs_case& c : {fs_case{false, "discard", "", true}, fs_case{false, "", "discard", true},
                             fs_case{true, "discard", "", false}, fs_case{false, "", "", false}}) {
        const std::string name = "fs" + std::to_string(i++);
        SCOPED_TRACE(name + (c.journal ? ": journal" : ": no journal") + ", options '" + c.options +
                     "', defaults '" + c.defaults + "'");
        loop_ext4 fs(scratch.path(), 32, c.journal, c.options, name, c.defaults);
        ASSERT_TRUE(fs.ok()) << fs.why();
        child x = start(xcap({"-v", "-w", fs.file("d.pcap")}), name, "queue 1:");
        x.signal(SIGINT);
        ASSERT_EQ(x.wait(30), 0) << read_text(path(name + ".err"));
        const std::string err = read_text(path(name + ".err"));
        ASSERT_NE(err.find("d.pcap: direct I/O"), std::string::npos) << err;
        EXPECT_EQ(err.find(caveat) != std::string::npos, c.said) << err;
    }
}

// 20000 frames of the mix (about 14 MB) into 8 MiB: the disk fills. xcap says so (exit 1), the file
// ends on a whole record and holds exactly the packets the summary counts
// as captured; the rest are write errors, none silent.
TEST_F(FullDisk, StopsAtTheLastWholeRecordWithTheCountExact) {
    const std::string err = fill_up({"-v", "-w", disk->file("full.pcap")}, "f");
    EXPECT_NE(err.find("full.pcap: direct I/O"), std::string::npos) << err;
    const uint64_t in_file = packets_in(disk->file("full.pcap"));
    EXPECT_GT(in_file, 100u);
    EXPECT_LT(in_file, sent);
    EXPECT_EQ(number_in(err, "([0-9]+) packets? captured"), in_file);
    const uint64_t errors = number_in(err, "write_errors ([0-9]+)");
    EXPECT_GT(errors, 0u);
    EXPECT_LE(in_file + errors, sent);
}

// The disk fills during a rotating capture. The files before the one it
// filled are whole; that one ends on a whole record, or is removed when
// the disk was full before its headers were in (no empty file is left);
// no file comes after it (one already opened, its rotation not waiting
// for the disk, is removed); the error names the file; and the files hold
// exactly what the summary counts as captured.
TEST_F(FullDisk, RotationStopsAtTheFileTheDiskFilledUp) {
    const std::string err = fill_up({"-v", "-C", "1", "-w", disk->file("rf.pcap")}, "rf");
    SCOPED_TRACE(err);
    uint64_t in_files = 0;
    std::string last;
    size_t kept = 0;
    for (size_t k = 0;; ++k) {
        const std::string f = disk->file("rf.pcap" + (k ? std::to_string(k) : ""));
        if (!file_exists(f)) {
            break;
        }
        last = f;
        kept = k + 1;
        EXPECT_LE(file_size(f), 1'000'000u) << f;
        EXPECT_GT(file_size(f), 0u) << f << " is empty";
        in_files += packets_in(f);
    }
    ASSERT_FALSE(last.empty());
    EXPECT_FALSE(file_exists(disk->file("rf.pcap" + std::to_string(kept + 1)))) << "a file after the gap";
    const bool removed = err.find("so it was removed") != std::string::npos;
    const std::string named = removed ? disk->file("rf.pcap" + std::to_string(kept)) : last;
    EXPECT_NE(err.find("writing " + named + " failed"), std::string::npos)
        << "the error names the file the disk filled, " << named << ":\n" << err;
    EXPECT_GT(in_files, 100u);
    EXPECT_EQ(number_in(err, "([0-9]+) packets? captured"), in_files);
    const uint64_t errors = number_in(err, "write_errors ([0-9]+)");
    EXPECT_GT(errors, 0u);
    EXPECT_LE(in_files + errors, sent);
}

// A disk full before xcap starts: no write gets in, not even the file's
// headers, on the direct path and through the page cache. xcap says so
// (exit 1) and removes the file it could not write, which would be empty
// (no reader takes an empty file for a capture); it writes nothing else.
TEST_F(FullDisk, AFileNothingCouldBeWrittenToIsRemoved) {
    auto r = run_command("dd if=/dev/zero of=" + shell_quote(disk->file("filler")) + " bs=1M 2>&1");
    ASSERT_NE(r.output.find("No space left on device"), std::string::npos) << r.output;
    for (const std::string buffer : {"256m", "0"}) {
        SCOPED_TRACE("--buffer-len " + buffer);
        const std::string err = fill_up({"--buffer-len", buffer, "-w", disk->file("none.pcap")}, "n" + buffer);
        EXPECT_NE(err.find("writing " + disk->file("none.pcap") +
                           " failed: No space left on device; nothing of it could be written, so it was removed"),
                  std::string::npos)
            << err;
        EXPECT_NE(err.find("0 packets captured (written to no file)"), std::string::npos) << err;
        EXPECT_FALSE(file_exists(disk->file("none.pcap")));
        EXPECT_GT(number_in(err, "write_errors ([0-9]+)"), 0u);
    }
}
