#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace xcap::test {

struct command_result {
    int status = -1;  // exit code, -1 when it did not exit normally
    std::string output;  // stdout and stderr together
};

// Runs a shell command, capturing its output.
command_result run_command(const std::string& cmd);
bool have_tool(const std::string& name);
// A whole file as text ("" when it cannot be read).
std::string read_text(const std::string& path);
std::string shell_quote(const std::string& word);
// A file's size in bytes (0 when it does not exist), and whether it exists.
uint64_t file_size(const std::string& path);
bool file_exists(const std::string& path);

// The rows of `tshark -T fields` output that hold values (every field the
// tests ask for starts with a digit): tshark's own notes ("Running as user
// ...", merged in by run_command) start with a letter, and a packet without
// the field gives an empty row.
std::vector<std::string> tshark_rows(const std::string& output);

// The capture files (*.pcap, *.pcapng) in `dir`, sorted; empty when `dir`
// does not exist.
std::vector<std::string> capture_files(const std::string& dir);

// A packet as libpcap read it from a file, nanosecond timestamps.
struct file_packet {
    uint64_t ts_ns = 0;
    uint32_t caplen = 0;
    uint32_t len = 0;  // on the wire
    std::vector<uint8_t> data;
};

// Every packet of a pcap or pcapng file through libpcap; `error` gets
// libpcap's message if it could not read it all.
std::vector<file_packet> read_capture(const std::string& path, std::string* error = nullptr);

// A temporary directory removed (with its contents) on destruction.
class temp_dir {
public:
    temp_dir();
    ~temp_dir();
    const std::string& path() const { return _path; }
    std::string file(const std::string& name) const { return _path + "/" + name; }

private:
    std::string _path;
};

}  // namespace xcap::test
