// xcap-man DIR: writes the manual pages xcap.1, xcap-replay.1 and
// xcap-trace.1 into DIR, from the option tables that --help renders
// (cli/option_table.h), so that the two cannot disagree. Run at build
// time; the sections here are the ones --help leaves out.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

#include "cli/man_page.h"
#include "cli/subcommands.h"

namespace {

using xcap::man_section;

constexpr std::string_view files =
    "/usr/bin/xcap  the program.\n"
    "/usr/lib/x86_64-linux-gnu/wireshark/extcap/xcap  a link to it in\n"
    "   Wireshark's extcap folder (the multiarch library folder of the\n"
    "   installation), through which Wireshark, tshark and dumpcap list and\n"
    "   capture from xcap's interfaces (see WIRESHARK).\n"
    "/sys/fs/bpf  bpffs; libxdp keeps its state there. xcap mounts nothing: where\n"
    "   bpffs is not mounted libxdp says so and attaches a single program.\n"
    "\n"
    "xcap reads no configuration file and no environment variable.";

constexpr std::string_view pcapng_fields =
    "A pcapng file (a name ending in .pcapng, --format pcapng, several -i,\n"
    "or xcap trace) holds one section:\n"
    "\n"
    "SHB  shb_hardware (the CPU model), shb_os (kernel name and release),\n"
    "   shb_userappl (xcap and its version).\n"
    "IDB  one per interface, in -i order: its link type and snaplen,\n"
    "   if_name, if_description (how xcap captured: the mode, XDP mode and\n"
    "   binding), if_hardware (driver, version, firmware, bus), if_speed\n"
    "   where the link reports one, if_tsresol (nanoseconds, or\n"
    "   microseconds with --micro) and if_filter (the filter expression).\n"
    "EPB  one per packet: the capture time, the captured and original\n"
    "   lengths, epb_flags (the direction), epb_queue (the RX queue),\n"
    "   epb_packetid, epb_dropcount (the packets the queue dropped just\n"
    "   before this one, when any) and, from xcap trace, epb_verdict (the\n"
    "   XDP action, at exit) and a comment \"entry NAME\" or \"exit NAME\".\n"
    "ISB  one per interface at the end of every file: isb_starttime,\n"
    "   isb_endtime, isb_ifrecv (packets that reached the interface's\n"
    "   queues) and isb_ifdrop (every drop, by any reason).\n"
    "\n"
    "tshark shows them as frame.interface_queue, frame.packet_id,\n"
    "frame.drop_count and frame.verdict; classic pcap holds none of them.";

constexpr std::string_view requirements =
    "xcap runs as root, or with the capabilities CAP_NET_ADMIN, CAP_BPF,\n"
    "CAP_NET_RAW and CAP_IPC_LOCK (and CAP_PERFMON for xcap trace); a\n"
    "missing one is exit 4.\n"
    "\n"
    "Kernel: AF_XDP sockets and XDP attached through a bpf_link (Linux 5.9 or\n"
    "later; a link is what makes the kernel detach xcap's program when xcap\n"
    "exits, even on SIGKILL); BPF ring buffers for --tap and xcap trace\n"
    "(5.8; --tap with multi-buffer XDP, 5.18); frames longer than one\n"
    "AF_XDP buffer need AF_XDP multi-buffer (6.6), and are counted as\n"
    "too_large without it; -D's XDP feature lines need the netdev netlink\n"
    "family (6.3). xcap trace needs BTF and a kernel that allows fentry and\n"
    "fexit programs on XDP programs; --hook needs neither.\n"
    "\n"
    "Driver: every interface takes XDP in generic mode (after the driver\n"
    "builds an skb: slower, but anywhere). Native XDP needs driver support\n"
    "(i40e, ice, ixgbe, mlx5, bnxt, virtio_net, veth and others), and\n"
    "zero-copy AF_XDP more of it (i40e, ice, ixgbe, mlx5, and virtio_net\n"
    "from Linux 6.11); elsewhere the sockets bind in copy mode. xcap -D\n"
    "shows what each interface supports.";

constexpr std::string_view wireshark =
    "Installed with its extcap link (see FILES), xcap is a capture source of\n"
    "Wireshark, tshark and dumpcap: tshark -D lists an interface xcap-IF\n"
    "for every interface IF of the network namespace, and\n"
    "tshark -i xcap-eth0 captures eth0 through xcap, the capture filter\n"
    "compiled into xcap's XDP filter (a bad filter is reported before the\n"
    "capture starts). Wireshark's interface options offer the mode (tap,\n"
    "the default: every packet goes on to the network stack; or redirect:\n"
    "packets are taken from it, for capture ports), the snaplen, the RX\n"
    "queues and the XDP mode. The capture stops when Wireshark stops it\n"
    "(SIGTERM, or by closing its pipe), with nothing left attached. xcap\n"
    "needs its privileges there too: run Wireshark as root, or give xcap\n"
    "the capabilities above with setcap.\n"
    "\n"
    "Wireshark calls xcap with the extcap options (extcap(4)):\n"
    "\n"
    "    xcap --extcap-interfaces\n"
    "    xcap --extcap-dlts --extcap-interface xcap-IF\n"
    "    xcap --extcap-config --extcap-interface xcap-IF\n"
    "    xcap --extcap-interface xcap-IF --extcap-capture-filter EXPRESSION\n"
    "    xcap --capture --extcap-interface xcap-IF --fifo FIFO\n"
    "        [--extcap-capture-filter EXPRESSION] [--mode tap|redirect]\n"
    "        [--snaplen SNAPLEN] [--queues LIST] [--xdp-mode auto|native|generic]";

constexpr std::string_view see_also_capture =
    "xcap-replay(1), xcap-trace(1), tcpdump(8), pcap-filter(7),\n"
    "tshark(1), extcap(4), xdp-loader(8)";
constexpr std::string_view see_also_replay = "xcap(1), xcap-trace(1), tcpreplay(1)";
constexpr std::string_view see_also_trace = "xcap(1), xcap-replay(1), xdpdump(8), pcap-filter(7)";

bool write_page(const std::string& dir, const xcap::command_doc& doc, std::span<const man_section> before,
                std::string_view see_also) {
    const man_section after[] = {{"SEE ALSO", see_also}};
    const std::string path = dir + "/" + xcap::man_page_name(doc) + ".1";
    std::ofstream f(path);
    f << xcap::render_man_page(doc, XCAP_VERSION, before, after);
    f.close();
    if (!f) {
        std::fprintf(stderr, "xcap-man: cannot write %s: %s\n", path.c_str(), std::strerror(errno));
        return false;
    }
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: xcap-man DIR\n");
        return 2;
    }
    const man_section capture_sections[] = {
        {"FILES", files},
        {"PCAPNG FIELDS", pcapng_fields},
        {"REQUIREMENTS", requirements},
        {"WIRESHARK", wireshark},
    };
    const man_section trace_sections[] = {{"PCAPNG FIELDS", pcapng_fields}, {"REQUIREMENTS", requirements}};
    const bool ok = write_page(argv[1], xcap::capture_doc(), capture_sections, see_also_capture) &&
                    write_page(argv[1], xcap::replay_doc(), {}, see_also_replay) &&
                    write_page(argv[1], xcap::trace_doc(), trace_sections, see_also_trace);
    return ok ? 0 : 1;
}
