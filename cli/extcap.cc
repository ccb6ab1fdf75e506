#include "cli/extcap.h"

#include <fcntl.h>
#include <pcap/dlt.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <thread>

#include "cli/args.h"
#include "cli/options.h"
#include "cli/subcommands.h"
#include "common/error.h"
#include "engine/device.h"
#include "filter/filter.h"
#include "pcap/pcap_writer.h"

namespace xcap {
namespace {

constexpr std::string_view prefix = "xcap-";
constexpr const char* hint = "xcap answers Wireshark's extcap calls; see WIRESHARK in xcap(1)";

// What one call asks. The capture settings are the --extcap-config
// arguments, as Wireshark passes them back.
struct extcap_request {
    std::string call;  // the call's own option: "--extcap-interfaces", ..., "--capture"
    std::string interface, fifo, filter, version, control, mode = "tap", snaplen, queues, xdp_mode, direction;
    bool has_filter = false;
};

// The calls Wireshark makes, each named by its own option.
constexpr std::string_view extcap_calls[] = {"--extcap-interfaces", "--extcap-dlts", "--extcap-config", "--capture"};

// The options that carry a value into a field of the request (`control`
// for those xcap has no use for: the control pipes of a toolbar it does
// not declare).
struct extcap_value {
    std::string_view name;
    std::string extcap_request::*field;
};

constexpr extcap_value extcap_values[] = {
    {"--extcap-interface", &extcap_request::interface}, {"--extcap-version", &extcap_request::version},
    {"--extcap-capture-filter", &extcap_request::filter}, {"--fifo", &extcap_request::fifo},
    {"--extcap-control-in", &extcap_request::control},    {"--extcap-control-out", &extcap_request::control},
    {"--extcap-reload-option", &extcap_request::control}, {"--mode", &extcap_request::mode},
    {"--snaplen", &extcap_request::snaplen},              {"--queues", &extcap_request::queues},
    {"--xdp-mode", &extcap_request::xdp_mode},            {"--direction", &extcap_request::direction},
};

const extcap_value* find_value(const std::string& name) {
    for (const extcap_value& v : extcap_values) {
        if (v.name == name) {
            return &v;
        }
    }
    return nullptr;
}

bool is_call(const std::string& name) {
    return std::find(std::begin(extcap_calls), std::end(extcap_calls), name) != std::end(extcap_calls);
}

extcap_request parse_request(const std::vector<std::string>& args) {
    extcap_request r;
    arg_walker arg(args, hint);
    while (arg.next()) {
        const bool operand = arg.operand();
        if (const extcap_value* v = operand ? nullptr : find_value(arg.name())) {
            r.*(v->field) = arg.value();
            r.has_filter = r.has_filter || v->name == "--extcap-capture-filter";
            continue;
        }
        if (operand || !is_call(arg.name())) {
            arg.unknown("extcap option ");
        }
        arg.flag();
        if (!r.call.empty() && r.call != arg.name()) {
            throw failure(failure_kind::usage, r.call + " and " + arg.name() + " are two extcap calls", hint);
        }
        r.call = arg.name();
    }
    return r;
}

// "xcap-eth0" → "eth0".
std::string own_interface(const extcap_request& r) {
    if (r.interface.size() <= prefix.size() || r.interface.compare(0, prefix.size(), prefix) != 0) {
        throw failure(failure_kind::usage,
                      "--extcap-interface '" + r.interface + "': not one of xcap's interfaces (xcap-NAME)",
                      "pick one that xcap --extcap-interfaces lists");
    }
    return r.interface.substr(prefix.size());
}

void list_interfaces() {
    std::string out = "extcap {version=" XCAP_VERSION "}{display=xcap: AF_XDP capture}\n";
    for (const std::string& name : interface_names()) {
        out += "interface {value=" + std::string(prefix) + name + "}{display=xcap: " + name + " (AF_XDP)}\n";
    }
    std::fputs(out.c_str(), stdout);
}

void list_dlts(const std::string& name) {
    const uint32_t linktype = linktype_for(probe_device(name).arphrd);
    if (linktype == 1) {
        std::printf("dlt {number=%d}{name=EN10MB}{display=Ethernet}\n", DLT_EN10MB);
    } else if (linktype == 101) {
        std::printf("dlt {number=%d}{name=RAW}{display=Raw IP}\n", DLT_RAW);
    } else {
        throw failure(failure_kind::unsupported, name + ": xcap cannot label this interface's frames",
                      "capture an Ethernet or IP interface");
    }
}

// An option's first paragraph of help in the capture table, on one line,
// as a tooltip: the dialog says what --help says.
std::string tooltip(std::string_view long_name) {
    for (const option& o : capture_doc().options) {
        if (o.long_name == long_name) {
            std::string s(o.help.substr(0, o.help.find("\n\n")));
            for (char& c : s) {
                c = (c == '\n' || c == '{' || c == '}') ? ' ' : c;
            }
            return s;
        }
    }
    return "";
}

void list_config() {
    std::string out =
        "arg {number=0}{call=--mode}{display=Capture mode}{type=radio}{tooltip=tap: " + tooltip("--tap") +
        " redirect: packets are taken from the stack into AF_XDP sockets, for capture ports and mirrors.}\n"
        "value {arg=0}{value=tap}{display=tap (packets go on to the stack)}{default=true}\n"
        "value {arg=0}{value=redirect}{display=redirect (packets are taken)}{default=false}\n"
        "arg {number=1}{call=--snaplen}{display=Snapshot length}{type=unsigned}{range=0,262144}{default=0}"
        "{tooltip=" + tooltip("--snapshot-length") + "}\n"
        "arg {number=2}{call=--queues}{display=RX queues (redirect)}{type=string}{validation=^[0-9,-]*$}"
        "{tooltip=" + tooltip("--queues") + " Empty: every queue.}\n"
        "arg {number=3}{call=--xdp-mode}{display=XDP mode}{type=selector}{tooltip=" + tooltip("--xdp-mode") + "}\n";
    for (std::string_view m : {"auto", "native", "generic"}) {
        out += "value {arg=3}{value=" + std::string(m) + "}{display=" + std::string(m) + "}{default=" +
               (m == "auto" ? "true" : "false") + "}\n";
    }
    out += "arg {number=4}{call=--direction}{display=Direction (tap)}{type=selector}{tooltip=" +
           tooltip("--direction") + "}\n";
    for (std::string_view d : {"inout", "in", "out"}) {
        out += "value {arg=4}{value=" + std::string(d) + "}{display=" + std::string(d) + "}{default=" +
               (d == "inout" ? "true" : "false") + "}\n";
    }
    std::fputs(out.c_str(), stdout);
}

// The capture as `xcap -i IF -w FIFO ...` would run it: the same table
// checks the settings (a bad one is exit 2 with its line).
capture_options capture_settings(const extcap_request& r) {
    std::vector<std::string> a = {"-i", own_interface(r), "-w", r.fifo, "--format", "pcapng", "-q"};
    if (r.mode == "tap") {
        a.push_back("--tap");
    } else if (r.mode != "redirect") {
        usage_error("--mode", r.mode, "must be tap or redirect");
    }
    const std::pair<const char*, const std::string*> settings[] = {
        {"-s", &r.snaplen}, {"--queues", &r.queues}, {"--xdp-mode", &r.xdp_mode}, {"-Q", &r.direction}};
    for (const auto& [name, value] : settings) {
        if (!value->empty()) {
            a.insert(a.end(), {name, *value});
        }
    }
    if (!r.filter.empty()) {
        a.insert(a.end(), {"--", r.filter});
    }
    if (r.fifo.empty()) {
        throw failure(failure_kind::usage, "--capture needs --fifo FIFO", hint);
    }
    return parse_capture_command(a).capture;
}

// Wireshark may stop a capture by closing its end of the FIFO. With
// packets flowing the next write says so (EPIPE); on a quiet interface
// nothing would. This thread holds a second write end and polls it: the
// kernel reports POLLERR there once no reader is left, and the thread then
// stops the capture as SIGTERM does (the capture takes stop signals
// through a signalfd; this thread blocks them so that one goes there).
class fifo_watch {
public:
    explicit fifo_watch(std::string path) : _path(std::move(path)), _thread([this] { run(); }) {}
    ~fifo_watch() {
        _done = true;
        _thread.join();
    }
    fifo_watch(const fifo_watch&) = delete;
    fifo_watch& operator=(const fifo_watch&) = delete;

private:
    void run() {
        sigset_t set;
        sigemptyset(&set);
        for (int s : {SIGINT, SIGTERM, SIGHUP}) {
            sigaddset(&set, s);
        }
        pthread_sigmask(SIG_BLOCK, &set, nullptr);
        int fd = -1;
        // Until Wireshark's reader has the FIFO open, opening a write end
        // without blocking fails with ENXIO.
        while (!_done && fd < 0) {
            fd = open(_path.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
            if (fd < 0 && errno != ENXIO) {
                return;
            }
            if (fd < 0) {
                usleep(50'000);
            }
        }
        while (!_done && fd >= 0) {
            pollfd p{fd, 0, 0};
            if (poll(&p, 1, 100) > 0 && (p.revents & POLLERR)) {
                kill(getpid(), SIGTERM);
                break;
            }
        }
        if (fd >= 0) {
            close(fd);
        }
    }

    std::string _path;
    std::atomic<bool> _done{false};
    std::thread _thread;
};

// A capture that fails before it opens the FIFO leaves Wireshark's reader
// blocked in open() for a writer that never comes (tshark then hangs after
// showing the error). Opening and closing a write end lets it see the end
// of the stream. The reader may not have reached open() yet: tried for two
// seconds.
void release_reader(const std::string& fifo) {
    for (int i = 0; i < 40; ++i) {
        const int fd = open(fifo.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
        if (fd >= 0) {
            close(fd);
            return;
        }
        if (errno != ENXIO) {
            return;
        }
        usleep(50'000);
    }
}

void run_capture_call(const extcap_request& r) {
    const capture_options opts = capture_settings(r);
    auto quiet = [](const std::string&) {};
    capture_result result;
    {
        fifo_watch watch(r.fifo);
        result = opts.tap ? run_tap(opts, {quiet, quiet, quiet}) : run_capture(opts, {quiet, quiet, quiet});
    }
    if (result.end == capture_end::interface_gone) {
        throw failure(failure_kind::interface, "interface " + opts.interface + " disappeared while capturing",
                      "every packet it delivered before is in the capture");
    }
    if (result.end == capture_end::output_failed) {
        throw failure(failure_kind::runtime, result.output_error.error,
                      "writing to Wireshark's pipe " + result.output_error.file + " failed", "");
    }
}

void capture(const extcap_request& r) {
    try {
        run_capture_call(r);
    } catch (const failure&) {
        release_reader(r.fifo);
        throw;
    }
}

}  // namespace

bool is_extcap_call(const std::vector<std::string>& args) {
    if (args.empty()) {
        return false;
    }
    const std::string first = args.front().substr(0, args.front().find('='));
    return first == "--capture" || (first.rfind("--extcap-", 0) == 0 && (is_call(first) || find_value(first)));
}

int extcap_main(const std::vector<std::string>& args) {
    const extcap_request r = parse_request(args);
    if (r.call == "--extcap-interfaces") {
        list_interfaces();
    } else if (r.call == "--extcap-dlts") {
        list_dlts(own_interface(r));
    } else if (r.call == "--extcap-config") {
        list_config();
    } else if (r.call == "--capture") {
        capture(r);
    } else if (r.has_filter) {
        // Wireshark checks a capture filter as it is typed: silence says
        // it compiles, a line says why not.
        try {
            compile_filter(r.filter, max_snaplen);
        } catch (const failure& e) {
            std::printf("%s\n", e.what());
        }
    } else {
        throw failure(failure_kind::usage, "no extcap call given", hint);
    }
    return exit_ok;
}

}  // namespace xcap
