// Capture to a disk on the direct-I/O path (--buffer-len): a small file
// system the test makes (mkfs on a file, mounted through a loop device) and
// removes again, passed or failed: ext4, and for rotation and a full disk
// XFS and btrfs as well. Rotation keeps every packet
// in files of exact length that read to their end; a full disk stops at
// the last whole record with the count exact. Needs root and loop devices;
// skips with the reason otherwise.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>

#include "netns_test.h"

using namespace xcap::test;

namespace {

// A file system of `type` (ext4, xfs or btrfs) on a loop device, mounted
// at dir/NAME while this lives, with `mib` MiB free: mkfs makes it larger
// when the type has a minimum size (xfsprogs refuses under 300 MB, btrfs
// under 109 MiB) and a reserved file takes up the difference. For ext4:
// without a journal unless `journal`, and the default mount options
// `defaults` (tune2fs -o); `options` are mount options besides loop.
struct fs_setup {
    bool journal = false;
    std::string options;
    std::string name = "mnt";
    std::string defaults;
};

class loop_fs {
public:
    loop_fs(const std::string& dir, const std::string& type, unsigned mib, const fs_setup& o = {})
        : _image(dir + "/" + o.name + ".img"), _mnt(dir + "/" + o.name) {
        if (access("/dev/loop-control", F_OK) != 0) {
            _why = "no loop devices (/dev/loop-control is missing)";
            return;
        }
        const std::string mkfs = "mkfs." + type;
        if (!have_tool(mkfs)) {
            _why = mkfs + " is not installed (" +
                   (type == "ext4" ? "e2fsprogs" : type == "xfs" ? "xfsprogs" : type + "-progs") + ")";
            return;
        }
        if (read_text("/proc/filesystems").find("\t" + type + "\n") == std::string::npos) {
            // A module not loaded yet: mount loads it where modprobe can.
            run_command("modprobe " + type + " 2>/dev/null");
        }
        const unsigned least = type == "xfs" ? 320 : type == "btrfs" ? 128 : 0;
        const std::string flags = type == "ext4"  ? std::string("-q -F -b 4096 ") + (o.journal ? "" : "-O ^has_journal ")
                                  : type == "xfs" ? "-q -f "
                                                  : "-q -f ";
        auto r = run_command("truncate -s " + std::to_string(std::max(mib, least)) + "M " + shell_quote(_image) +
                             " && " + mkfs + " " + flags + shell_quote(_image) + " 2>&1");
        if (r.status != 0) {
            _why = mkfs + " failed: " + r.output;
            return;
        }
        if (!o.defaults.empty()) {
            r = run_command("tune2fs -o " + o.defaults + " " + shell_quote(_image) + " 2>&1");
            if (r.status != 0) {
                _why = "tune2fs failed: " + r.output;
                return;
            }
        }
        mkdir(_mnt.c_str(), 0755);
        r = run_command("mount -t " + type + " -o loop" + (o.options.empty() ? "" : "," + o.options) + " " +
                        shell_quote(_image) + " " + shell_quote(_mnt) + " 2>&1");
        if (r.status != 0) {
            _why = "mount -t " + type + " -o loop failed (no loop devices, or the kernel has no " + type +
                   "?): " + r.output;
            return;
        }
        _mounted = true;
        if (mib < least) {
            struct statvfs v {};
            const uint64_t want = uint64_t(mib) << 20;
            if (statvfs(_mnt.c_str(), &v) == 0 && uint64_t(v.f_bavail) * v.f_frsize > want) {
                r = run_command("fallocate -l " + std::to_string(uint64_t(v.f_bavail) * v.f_frsize - want) + " " +
                                shell_quote(_mnt + "/.reserved") + " 2>&1");
                if (r.status != 0) {
                    _why = "fallocate of the reserved file failed: " + r.output;
                    _mounted = false;
                    umount(_mnt.c_str());
                }
            }
        }
    }
    ~loop_fs() {
        if (_mounted && umount(_mnt.c_str()) != 0) {
            umount2(_mnt.c_str(), MNT_DETACH);  // busy: detach now, gone when the last user is
        }
        rmdir(_mnt.c_str());
        unlink(_image.c_str());
    }
    loop_fs(const loop_fs&) = delete;
    loop_fs& operator=(const loop_fs&) = delete;

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
        disk = std::make_unique<loop_fs>(scratch.path(), fs_type(), mib());
        if (!disk->ok()) {
            GTEST_SKIP() << disk->why();
        }
    }
    virtual unsigned mib() const { return 64; }
    virtual std::string fs_type() const { return "ext4"; }
    // Destroyed before the scratch directory the image is in.
    void TearDown() override { disk.reset(); }

    std::unique_ptr<loop_fs> disk;
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

// The tests that hold on any file system run on the ones users write
// captures to: ext4, XFS (RHEL's default) and btrfs (Fedora's and SUSE's).
class DiskOn : public Disk, public ::testing::WithParamInterface<std::string> {
protected:
    std::string fs_type() const override { return GetParam(); }
};

class FullDiskOn : public FullDisk, public ::testing::WithParamInterface<std::string> {
protected:
    std::string fs_type() const override { return GetParam(); }
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
TEST_P(DiskOn, RotationOnDirectIoKeepsEveryPacket) {
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
        loop_fs fs(scratch.path(), "ext4", 32, {c.journal, c.options, name, c.defaults});
        ASSERT_TRUE(fs.ok()) << fs.why();
        child x = start(xcap({"-v", "-w", fs.file("d.pcap")}), name, "queue 1:");
        x.signal(SIGINT);
        ASSERT_EQ(x.wait(30), 0) << read_text(path(name + ".err"));
        const std::string err = read_text(path(name + ".err"));
        ASSERT_NE(err.find("d.pcap: direct I/O"), std::string::npos) << err;
        EXPECT_EQ(err.find(caveat) != std::string::npos, c.said) << err;
    }
}

// A stop signal while xcap is still setting up, after the output file
// exists (here while it faults in a 512 MiB pool), waits for the capture
// loop, which ends at once: exit 0, the file a whole capture with no
// packets, the XDP program gone. Taken by the signal's default action
// instead, the process would end with exit 130 and the file empty.
TEST_F(Disk, AStopDuringSetUpLeavesAWholeFile) {
    const std::string file = disk->file("s.pcap");
    child x(xcap({"-w", file, "--buffer-len", "512m"}), path("s.out"), path("s.err"));
    struct stat st{};
    for (int i = 0; i < 10'000 && stat(file.c_str(), &st) != 0 && x.running(); ++i) {
        usleep(1000);
    }
    ASSERT_EQ(stat(file.c_str(), &st), 0) << "no output file: " << read_text(path("s.err"));
    x.signal(SIGINT);
    ASSERT_EQ(x.wait(30), 0) << read_text(path("s.err"));
    EXPECT_EQ(packets_in(file), 0u);
    EXPECT_TRUE(net->wait_receiver_xdp(false, 5)) << "an XDP program is left on the interface";
}

// 20000 frames of the mix (about 14 MB) into 8 MiB: the disk fills. xcap says so (exit 1), the file
// ends on a whole record and holds exactly the packets the summary counts
// as captured; the rest are write errors, none silent.
TEST_P(FullDiskOn, StopsAtTheLastWholeRecordWithTheCountExact) {
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
TEST_P(FullDiskOn, RotationStopsAtTheFileTheDiskFilledUp) {
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

const auto file_systems = ::testing::Values(std::string("ext4"), std::string("xfs"), std::string("btrfs"));
const auto by_name = [](const ::testing::TestParamInfo<std::string>& p) { return p.param; };
INSTANTIATE_TEST_SUITE_P(FileSystems, DiskOn, file_systems, by_name);
INSTANTIATE_TEST_SUITE_P(FileSystems, FullDiskOn, file_systems, by_name);
