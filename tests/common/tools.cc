#include "tools.h"

#include <dirent.h>
#include <sys/stat.h>
#include <pcap/pcap.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace xcap::test {

uint64_t file_size(const std::string& path) {
    struct stat st{};
    return stat(path.c_str(), &st) == 0 ? uint64_t(st.st_size) : 0;
}

bool file_exists(const std::string& path) {
    struct stat st{};
    return stat(path.c_str(), &st) == 0;
}

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

std::string read_text(const std::string& path) {
    std::ifstream f(path);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
}

bool have_tool(const std::string& name) { return run_command("command -v " + name).status == 0; }

std::string shell_quote(const std::string& word) {
    std::string q = "'";
    for (char c : word) {
        q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    }
    return q + "'";
}

std::vector<std::string> tshark_rows(const std::string& output) {
    std::vector<std::string> rows;
    std::istringstream lines(output);
    for (std::string row; std::getline(lines, row);) {
        if (!row.empty() && std::isdigit(static_cast<unsigned char>(row[0]))) {
            rows.push_back(row);
        }
    }
    return rows;
}

std::vector<std::string> capture_files(const std::string& dir) {
    std::vector<std::string> files;
    DIR* d = opendir(dir.c_str());
    if (!d) {
        return files;
    }
    while (dirent* e = readdir(d)) {
        std::string n = e->d_name;
        if (n.find(".pcap") != std::string::npos) {
            files.push_back(n);
        }
    }
    closedir(d);
    std::sort(files.begin(), files.end());
    return files;
}

std::vector<file_packet> read_capture(const std::string& path, std::string* error) {
    std::vector<file_packet> out;
    char err[PCAP_ERRBUF_SIZE] = {};
    pcap_t* p = pcap_open_offline_with_tstamp_precision(path.c_str(), PCAP_TSTAMP_PRECISION_NANO, err);
    if (!p) {
        if (error) {
            *error = err;
        }
        return out;
    }
    pcap_pkthdr* h;
    const u_char* d;
    int rc;
    while ((rc = pcap_next_ex(p, &h, &d)) == 1) {
        out.push_back({uint64_t(h->ts.tv_sec) * 1'000'000'000 + uint64_t(h->ts.tv_usec), h->caplen, h->len,
                       std::vector<uint8_t>(d, d + h->caplen)});
    }
    if (rc != PCAP_ERROR_BREAK && error) {
        *error = pcap_geterr(p);
    }
    pcap_close(p);
    return out;
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
