#include "xdpdump.h"

namespace xcap::e2e {

void xdpdump_probe::run(harness& h) {
    if (!h.want("xdpdump")) {
        return;
    }
    if (sh("command -v xdpdump").status != 0) {
        _result = "not installed";
        return;
    }
    h.attach(XDP_PASS_OBJ);
    {
        child c(h.net().in_receiver({"xdpdump", "-i", h.net().receiver_if(), "-w", h.shm() + "/xdpdump.pcap"}),
                h.tmp() + "/x.out", h.tmp() + "/x.err");
        if (c.wait(5) >= 0) {
            _result = "cannot run here: its fentry program on the interface's XDP program is refused (" +
                       one_line(read_text(h.tmp() + "/x.err")) +
                       "); its legacy mode needs an interface without an XDP program, which the generator's "
                       "frames need";
        } else {
            c.signal(SIGINT);
            c.wait(10);
            _result = "starts here, but is not measured: the harness has no way yet to tell it apart";
        }
    }
    h.detach();
    sh("rm -f " + quote(h.shm() + "/xdpdump.pcap"));
    std::printf("xdpdump: %s\n", _result.c_str());
}

void xdpdump_probe::markdown(std::ostream& md, const harness&) const {
    md << "\n## xdpdump\n\n" << (_result.empty() ? std::string("Not probed.") : _result) << "\n";
}

void xdpdump_probe::json(std::ostream& js, const harness&) const { js << ",\n  \"xdpdump\": " << json_str(_result); }

}  // namespace xcap::e2e
