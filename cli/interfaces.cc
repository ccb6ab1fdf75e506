#include "cli/interfaces.h"

#include "common/error.h"
#include "engine/device.h"
#include "sources/nic_program.h"

namespace xcap {
namespace {

std::string join(const std::vector<std::string>& words, const char* none = "none") {
    std::string s;
    for (const auto& w : words) {
        s += (s.empty() ? "" : ", ") + w;
    }
    return s.empty() ? none : s;
}

// The bracket of tcpdump -D, word for word: libpcap's flags in tcpdump's
// order ("none" when there is none), then the connection status.
std::string flags_of(const device_info& d) {
    std::vector<std::string> f;
    if (d.up) {
        f.push_back("Up");
    }
    if (d.running) {
        f.push_back("Running");
    }
    if (d.loopback) {
        f.push_back("Loopback");
    }
    if (d.wireless) {
        f.push_back("Wireless");
    }
    std::string s = join(f);
    switch (d.link) {
        case link_status::unknown: s += d.wireless ? ", Association status unknown" : ", Unknown"; break;
        case link_status::connected: s += d.wireless ? ", Associated" : ", Connected"; break;
        case link_status::disconnected: s += d.wireless ? ", Not associated" : ", Disconnected"; break;
        case link_status::not_applicable: break;
    }
    return "[" + s + "]";
}

std::string driver_of(const device_info& d) {
    if (d.driver.empty()) {
        return "none reported";
    }
    std::string s = d.driver;
    if (!d.driver_version.empty()) {
        s += " " + d.driver_version;
    }
    if (!d.firmware.empty() && d.firmware != "N/A") {
        s += ", firmware " + d.firmware;
    }
    if (!d.bus.empty() && d.bus != "N/A") {
        s += ", bus " + d.bus;
    }
    return s;
}

}  // namespace

std::string format_interface(size_t number, const interface_entry& e) {
    const device_info& d = e.dev;
    std::string s = std::to_string(number) + "." + d.name;
    if (!d.alias.empty()) {
        s += " (" + d.alias + ")";
    }
    s += " " + flags_of(d) + "\n";
    s += "    driver: " + driver_of(d) + "\n";
    s += "    queues: " + std::to_string(d.rx_queues) + " RX, " + std::to_string(d.tx_queues) + " TX; MTU " +
         std::to_string(d.mtu) + "\n";
    if (!e.features_reported) {
        s += "    XDP features: not reported by this kernel\n";
    } else if (!e.xdp) {
        s += "    XDP features: not reported for this interface\n";
    } else {
        const netdev_xdp_info& x = *e.xdp;
        // A driver with XDP of its own reports at least "basic"; generic
        // (skb) mode works on every interface.
        std::string modes = (x.xdp_features & xdp_act::basic) ? "native, generic" : "generic only";
        if (x.xdp_features & xdp_act::hw_offload) {
            modes += ", offload";
        }
        s += "    XDP modes: " + modes + "\n";
        s += "    XDP features: " + join(xdp_feature_names(x.xdp_features)) + "\n";
        if (x.has_rx_metadata) {
            s += "    XDP RX metadata: " + join(rx_metadata_names(x.rx_metadata)) + "\n";
        }
        if (x.xdp_features & xdp_act::xsk_zerocopy) {
            s += "    AF_XDP zero-copy: yes";
            if (x.has_zc_max_segs) {
                s += " (xdp-zc-max-segs " + std::to_string(x.zc_max_segs) + ")";
            }
            s += "\n";
        } else {
            s += "    AF_XDP zero-copy: no (copy mode only)\n";
        }
        if (x.has_xsk_features) {
            s += "    AF_XDP TX metadata: " + join(xsk_feature_names(x.xsk_features)) + "\n";
        }
    }
    s += "    XDP program: " + (e.program ? e.program->describe() : std::string("none")) + "\n";
    return s;
}

std::vector<interface_entry> gather_interfaces() {
    netdev_report report = query_netdev_features();
    std::vector<interface_entry> out;
    for (const auto& name : interface_names()) {
        interface_entry e;
        try {
            e.dev = probe_device(name);
        } catch (const failure& f) {
            if (f.kind() == failure_kind::interface) {
                continue;  // gone since it was listed
            }
            throw;
        }
        e.features_reported = report.reported;
        if (auto it = report.by_ifindex.find(e.dev.ifindex); it != report.by_ifindex.end()) {
            e.xdp = it->second;
        }
        e.program = query_attached(e.dev.ifindex);
        out.push_back(std::move(e));
    }
    return out;
}

std::string list_interfaces_text() {
    std::string text;
    size_t n = 0;
    for (const auto& e : gather_interfaces()) {
        text += format_interface(++n, e);
    }
    return text;
}

std::string time_stamp_types_text(const std::string& interface) {
    const device_info dev = probe_device(interface);
    std::string out = "Time stamp types for " + dev.name + " (use option -j to set):\n  host (Host)\n";
    if (query_nic_metadata(dev.ifindex).timestamp) {
        out += "  adapter_unsynced (Adapter, not synced with system time)\n";
    }
    return out;
}

}  // namespace xcap
