#include "tools.h"

#include <stdlib.h>
#include <sys/wait.h>

#include <cstdio>

namespace xcap::test {

command_result run_command(const std::string& cmd) {
    command_result r;
    FILE* p = popen((cmd + " 2>&1").c_str(), "r");
    if (!p) {
        return r;
    }
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), p)) > 0) {
        r.output.append(buf, n);
    }
    int st = pclose(p);
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return r;
}

bool have_tool(const std::string& name) { return run_command("command -v " + name).status == 0; }

std::string shell_quote(const std::string& word) {
    std::string q = "'";
    for (char c : word) {
        q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    }
    return q + "'";
}

temp_dir::temp_dir() {
    char tmpl[] = "/tmp/xcap-test-XXXXXX";
    if (mkdtemp(tmpl)) {
        _path = tmpl;
    }
}

temp_dir::~temp_dir() {
    if (!_path.empty()) {
        run_command("rm -rf " + shell_quote(_path));
    }
}

}  // namespace xcap::test
