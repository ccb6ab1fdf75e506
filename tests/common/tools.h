#pragma once

#include <string>

namespace xcap::test {

struct command_result {
    int status = -1;  // exit code, -1 when it did not exit normally
    std::string output;  // stdout and stderr together
};

// Runs a shell command, capturing its output.
command_result run_command(const std::string& cmd);
bool have_tool(const std::string& name);
std::string shell_quote(const std::string& word);

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
