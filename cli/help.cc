#include "cli/options.h"

namespace xcap {

const char* replay_help_text() {
    return R"(NAME
    xcap replay - send a capture out of an interface through AF_XDP

SYNOPSIS
    xcap replay -i INTERFACE -r FILE [--multiplier X | --pps N | --mbps N | --topspeed]
         [--loop N] [--loop-delay SECONDS] [--limit PACKETS] [--duration SECONDS]
         [--queues N] [--preload MB] [--bind auto|zerocopy|copy]
         [--xdp-mode auto|native|generic] [--force] [-q] [-v]
    xcap replay -i INTERFACE -r FILE --topspeed [--xdp-tx | --no-xdp-tx] [--loop N] [--limit PACKETS]
         [--duration SECONDS] [--preload MB]

DESCRIPTION
    Sends every Ethernet frame of FILE (pcap or pcapng) out of INTERFACE,
    through AF_XDP TX sockets: zero-copy where the driver can, copy mode
    otherwise. By default with the capture's own timing, on one TX queue, in
    file order. --topspeed sends with XDP live frames instead where the
    driver transmits XDP frames (see --xdp-tx), with no socket buffer per
    packet.

    The schedule is absolute: packet i is due at the start plus its own
    offset, so a late packet never delays the ones after it, and a sender
    that falls behind catches up in batches of at most 64 packets.

    The capture is loaded into the sockets' buffers first when it fits in the
    --preload budget, and streamed from the file otherwise; memory stays
    bounded either way.

    Frames longer than one 4 KiB buffer go out as several descriptors where
    the kernel has AF_XDP multi-buffer (Linux 6.6+), and are skipped and
    counted where it has not. Frames larger than the interface takes (MTU +
    14 bytes, + 4 with a VLAN tag) are skipped and counted, with one warning
    line; so are frames
    shorter than an Ethernet header. Frames captured with a snaplen (shorter
    in the file than on the wire) are sent as captured, and counted.

    -r - reads standard input, streamed: a pipe as it arrives, once (no
    --loop), a redirected file (-r - < FILE) as FILE reads.

    An interface that is up without carrier drops what it is given: one
    warning line says so at the start.

    At the end: packets and bytes sent, the achieved rate, and the send-time
    error against the schedule (p50, p99, max); what the interface dropped
    while sending (its tx_dropped counter) is counted as dropped by it, not
    as sent. On a terminal, a progress line updates in place.

OPTIONS
    -i, --interface INTERFACE
    -r, --read FILE
    --multiplier X
        Original timing with every gap divided by X (2 = twice as fast).
    --pps N
        N packets per second, evenly spaced.
    --mbps N
        N megabits per second of frame bytes.
    --topspeed, -t
        As fast as the interface takes them.
    --loop N
        Send the capture N times (0 = until stopped); default 1.
    --loop-delay SECONDS
        Pause between loops.
    --limit PACKETS
        Stop after sending PACKETS packets.
    --duration SECONDS
        Stop after SECONDS.
    --queues N
        Send on TX queues 0..N-1, one thread each; every packet of a flow
        (addresses, protocol, ports) leaves by the same queue, so per-flow
        order holds. Default 1: file order exactly.
    --preload MB
        Load the capture into memory first when it needs at most MB (default:
        a quarter of RAM, at most 1024); 0 streams it from the file.
    --bind auto|zerocopy|copy
        As for capture: zero-copy first by default.
    --xdp-tx, --no-xdp-tx
        How --topspeed sends. By default it uses XDP live frames where it
        can, and an AF_XDP socket where it cannot; -v says why. Live frames:
        the whole file is loaded into a BPF map (within --preload), and a
        BPF program run by BPF_PROG_RUN (BPF_F_TEST_XDP_LIVE_FRAMES) copies
        each packet into a frame and returns XDP_TX, which hands it to the
        driver's XDP transmit: no socket buffer per packet, several times
        faster. They send one file, from one CPU, in file order, with no
        --queues, --bind, --xdp-mode, --loop-delay or standard input; frames
        up to 3,496 bytes (longer ones are skipped and counted, so xcap uses
        them only where the MTU is below 3,478); CAP_BPF and CAP_NET_ADMIN;
        and a driver that transmits XDP frames now: its xdp-features name
        ndo-xmit (Linux 6.3 and later report them; a veth has it while its
        peer has an XDP program or GRO on, some NIC drivers only while an
        XDP program is attached). xcap counts the frames handed to the
        driver; the interface's own counters say what it sent.
        --xdp-tx: live frames or a one-line refusal. --no-xdp-tx: always
        the socket.
    --xdp-mode auto|native|generic
        Attach a pass-through XDP program in this mode while sending, for
        drivers that only run zero-copy AF_XDP with one attached. Without it
        xcap replay attaches nothing. Refuses another program unless --force.
    -q, --quiet
        No setup lines and no progress line.
    -v, --verbose
        Show libbpf's and libxdp's own messages.

EXIT STATUS
    0 sent (also when interrupted, and for an empty capture); 2 bad option;
    3 no such interface or interface down; 4 missing privileges; 6 another
    XDP program attached (with --xdp-mode); 7 kernel or driver refused;
    8 the input is missing, unreadable, not a capture, or not Ethernet.

EXAMPLES
    xcap replay -i eth0 -r capture.pcap
    xcap replay -i eth0 -r capture.pcap --topspeed --loop 10
    xcap replay -i eth0 -r capture.pcapng --pps 100000 --queues 2
)";
}

const char* trace_help_text() {
    return R"(NAME
    xcap trace - record what an XDP program already on an interface does to each packet

SYNOPSIS
    xcap trace -i INTERFACE -w FILE [--program NAME|ID] [--at entry|exit|entry,exit]
         [--ring-size SIZE] [-c COUNT] [-s SNAPLEN] [--duration SECONDS] [--stats SECONDS]
         [-C SIZE] [-G SECONDS] [-W FILES] [-z COMMAND] [-U] [--format pcap|pcapng]
         [--micro] [-q] [-v] [-F FILE | EXPRESSION]
    xcap trace --hook BPFFS_PATH -w FILE [-i INTERFACE] [--force] [other output options]
         [-F FILE | EXPRESSION]
    xcap trace -d [-s SNAPLEN] EXPRESSION

DESCRIPTION
    Records every packet the XDP program attached to INTERFACE sees, as it
    receives it (entry) and as it leaves it (exit, with the XDP action it
    returned), without detaching, replacing or reloading it. fentry and fexit
    programs are attached to it (to each program behind a libxdp dispatcher,
    or the one --program names); the records travel through a BPF ring
    buffer to the same writer as a capture. Writes pcapng unless --format or
    a name ending in .pcap says pcap: per packet epb_verdict (the action, at
    exit), epb_queue, epb_packetid (the same for a packet's entry and exit),
    inbound flags and a comment "entry NAME" or "exit NAME".

    EXPRESSION (or -F FILE) is a tcpdump filter, as for a capture: only the
    packets it matches are recorded, at entry and exit both (it is tested
    where the packet is first seen: at entry, or at exit with --at exit; with
    --hook, on the packet as the program left it). It sees what a record
    would hold (the first -s bytes; `len` is the whole length), so
    tcpdump -r FILE EXPRESSION selects every record. The recorders interpret
    libpcap's classic BPF program themselves; the summary says how many
    packets did not match. A bad expression exits 2 with nothing loaded.

    fentry/fexit need a kernel that allows BPF tracing programs on XDP
    programs (BTF, CAP_BPF, CAP_PERFMON); where the kernel refuses them xcap
    says so and exits 7, with nothing loaded.

    --hook PATH works without fentry, for programs built in the manner of
    cloudflare/xdpcap: they end with a tail call into a PROG_ARRAY pinned in
    bpffs (PATH), indexed by their action. xcap puts a recording program into
    each slot (each records the packet with its action and returns that
    action) and empties the slots when it exits. If xcap is killed (kill -9)
    a guardian process empties them; if that is killed too, the next
    xcap trace --hook on PATH empties what was left.

OPTIONS
    -i, --interface INTERFACE
        The interface whose XDP program to trace (with --hook: only names the
        interface in the file).
    --program NAME|ID
        Trace only this program of several behind a libxdp dispatcher (by
        id, kernel name or function name). Default: every one of them.
    --at entry|exit|entry,exit
        Where to record each packet; default both.
    --hook PATH
        Trace through an xdpcap hook map pinned at PATH instead of fentry/fexit.
    --ring-size SIZE
        The BPF ring buffer's size: a power of two from 4k to 2g (k, m, g
        suffixes), default 8m. A record takes its packet's length rounded up
        to 128, 512, 2048 or 16384 bytes, plus 56; when the ring is full the
        record is lost and counted (per CPU) in the summary.
    --force
        With --hook: take slots that hold another program (not put back).
    -F FILE
        Read the filter expression from FILE (line breaks count as spaces).
    -d
        Print the classic BPF program the expression compiles to (with the
        trace's snaplen), as tcpdump -d does, and exit.
    -w, -c, -s, --duration, --stats, -C, -G, -W, -z, -U, --format, --micro, -p, -q, -v
        As for a capture (see xcap --help); -c counts records, -s is at most
        16384 for trace.

EXIT STATUS
    As for a capture; also: 3 when --program names none of INTERFACE's XDP
    programs (with no program at all and no --program there is nothing to
    trace: xcap says so and captures as --tap does); 6 when a hook slot holds
    another program (see --force) or another xcap traces the hook; 7 when
    the kernel refuses the fentry/fexit programs.

EXAMPLES
    xcap trace -i eth0 -w trace.pcapng
    xcap trace -i eth0 -w - --at exit | tshark -r - -T fields -e frame.verdict.ebpf_xdp
    xcap trace -i eth0 --program xdp_lb -c 1000 -w lb.pcapng
    xcap trace --hook /sys/fs/bpf/xdpcap_hook -w hook.pcapng
)";
}

const char* help_text() {
    return R"(NAME
    xcap - capture packets at line rate with AF_XDP

SYNOPSIS
    xcap replay ...   (see xcap replay --help)
    xcap trace ...    (see xcap trace --help)
    xcap -i INTERFACE [-i INTERFACE ...] -w FILE [--tap [--ring-size SIZE]]
         [-c COUNT] [-s SNAPLEN] [-q] [--duration SECONDS]
         [--stats SECONDS] [--queues LIST] [--xdp-mode auto|native|generic]
         [--bind auto|zerocopy|copy] [--force] [-p] [--micro] [-B KIB] [-v]
         [--format pcap|pcapng] [-C SIZE] [-G SECONDS] [-W FILES] [-z COMMAND] [-U]
         [-F FILE | EXPRESSION]
    xcap -d EXPRESSION
    xcap -D

DESCRIPTION
    xcap attaches a small XDP program to INTERFACE that stamps every packet
    with its arrival time and redirects it to an AF_XDP socket bound to its
    RX queue. One capture thread reads every queue's packets in place,
    merges the queues in time order, writes a pcap file with nanosecond
    timestamps, which tcpdump, tshark and Wireshark read, and gives each
    packet's buffer straight back to the kernel.

    Packets redirected to xcap do not reach the kernel's network stack while
    xcap runs: xcap is meant for capture ports, mirrors and test beds. When a
    capture interface has an IP address (other than IPv6 link-local) or
    carries the default route, xcap says so in one warning line at start.
    On a host's own interface use --tap.

    With --tap the XDP program instead copies each packet (up to the snaplen,
    every fragment of a multi-buffer packet included, at most 65536 bytes)
    with its arrival time, queue and length into a BPF ring buffer, one per
    CPU, and lets the packet go on to the stack. Every packet a full ring had
    no room for is counted (ring_full in the summary, --stats, and pcapng's
    epb_dropcount); the host's traffic is never held up by a slow reader.

    -i may be given several times, or as a comma-separated list: one pcapng
    holds every interface's packets merged in time order, each with its
    interface (one Interface Description Block per interface). Classic pcap
    cannot say which interface a packet came from and is refused (exit 2).

    The XDP program is attached through a bpf_link, so the kernel removes it
    when xcap exits for any reason, even SIGKILL.

    On SIGINT, SIGTERM or SIGHUP xcap stops receiving, writes out every
    packet the sockets had delivered, detaches and prints a summary on
    standard error: packets captured and packets dropped, by reason (the six
    XDP_STATISTICS counters of the sockets, write errors, and too_large:
    frames longer than a socket takes where the kernel has no AF_XDP
    multi-buffer; see Jumbo frames in the README). If the interface
    disappears, xcap writes out what it had and exits 3. If a write fails
    (a full disk), xcap stops at once: the file is cut back to its last whole
    packet and holds exactly the packets counted as captured (exit 1).

    EXPRESSION is a tcpdump filter (pcap-filter(7)), as tcpdump takes it:
    the trailing words, or -F FILE. libpcap compiles it, and xcap translates
    the classic BPF into eBPF that runs in the XDP program before anything
    else: a packet that does not match is never copied and goes on to the
    network stack as if xcap were not there. The summary counts both. A
    filter too long for one XDP program (its jumps would span more than
    32767 eBPF instructions) runs on the capture thread instead, with a
    warning: every packet is then copied to xcap (and, without --tap, taken
    from the stack), as tcpdump filters in user space when the kernel
    refuses its filter.

    Interfaces that carry IP without an Ethernet header (tun, ipip, gre,
    wireguard) are written with link type RAW.

OPTIONS
    -i, --interface INTERFACE[,INTERFACE...]
        Capture on INTERFACE (all of its RX queues unless --queues). Several
        (repeat -i, or a comma-separated list) need pcapng; --queues,
        --xdp-mode and --force apply to each.
    --tap
        Copy packets through BPF ring buffers and let every one go on to the
        network stack, instead of taking them (AF_XDP redirect). For a
        host's own interfaces. --queues, --bind and -B do not apply.
    --ring-size SIZE
        With --tap: ring buffer per CPU, in KiB or with a k, m or g suffix
        (4k to 1g; default 16m), rounded up to a power of two. Sized for
        bursts: a 16 MiB ring holds about 10000 full-size frames.
    -w, --write FILE
        Write the capture to FILE; '-' writes to standard output. Standard
        output, FIFOs and other non-regular files are flushed after every
        batch and whenever the rings run empty, so `xcap -i eth0 -w - |
        tcpdump -r -` shows packets as they arrive.
    -U, --packet-buffered
        Flush regular files after every batch too. Without -U a regular file
        is written in large pieces, but nothing waits in the buffer for more
        than a quarter of a second once the capture goes idle, so a crash
        (kill -9, the OOM killer) loses at most what arrived in the last
        half second.
    --format pcap|pcapng
        The file format. By default a name ending in .pcapng gets pcapng and
        anything else classic pcap. pcapng records, per packet, the RX queue
        (epb_queue), a packet id (epb_packetid), the packets the queue dropped
        just before it (epb_dropcount) and the XDP action (epb_verdict), and
        ends each file with the interface's received and dropped counts.
    -C SIZE
        Before writing a packet that would make the file larger than SIZE,
        close it and start the next one: FILE, FILE1, FILE2, ... SIZE is in
        millions of bytes, or KiB, MiB, GiB with a k, m or g suffix. No file
        exceeds SIZE (unless one packet alone does).
    -G SECONDS
        Start a new file every SECONDS, named by putting FILE through
        strftime(3) (e.g. -w 'cap-%H%M%S.pcap'); without a % pattern each new
        file replaces the last. Periods without packets make no file.
    -W FILES
        With -C: keep a ring of FILES files (FILE0, FILE1, ...), overwriting
        the oldest. With -G: stop (exit 0) after FILES files.
    -z COMMAND
        Run `COMMAND FILE` (through sh) on every finished file, the last one
        included, e.g. -z gzip. A command that fails is reported with its
        file and exit status. xcap waits for them before it exits; a second
        Ctrl-C ends the wait (the commands go on, and are named).
    -F FILE
        Read the filter expression from FILE (line breaks count as spaces).
        FILE must be a regular file or a FIFO (exit 2 otherwise).
    -d
        Print the classic BPF program the expression compiles to, as
        tcpdump -d does, and exit.
    -D, --list-interfaces
        List the interfaces of this network namespace, as tcpdump -D does
        (numbered in ifindex order; the alias, if set, in parentheses; the
        flags in brackets), each followed by indented lines:
            driver: NAME VERSION[, firmware F][, bus B]   (ethtool)
            queues: N RX, N TX; MTU N
            XDP modes: native, generic | generic only     (native where
                the driver reports the basic XDP feature)
            XDP features: basic, redirect, ndo-xmit, xsk-zerocopy,
                hw-offload, rx-sg, ndo-xmit-sg (as the kernel reports them)
            XDP RX metadata: timestamp, hash, vlan-tag
            AF_XDP zero-copy: yes (xdp-zc-max-segs N) | no (copy mode only)
            AF_XDP TX metadata: tx-timestamp, tx-checksum, ...
            XDP program: none | 'NAME' (id N, MODE mode[, bpf_link ...])
        The XDP lines come from the kernel's netdev netlink family (Linux
        6.3 and later); an older kernel gets "XDP features: not reported by
        this kernel" instead. Needs no privileges (without them a program's
        name shows as '?'). Other options on the line are ignored, as
        tcpdump ignores them. Exit 0; 1 when the kernel cannot be asked, 4
        when a security policy denies it.
    -c, --count COUNT
        Stop after writing COUNT packets.
    -s, --snapshot-length SNAPLEN
        Store at most SNAPLEN bytes of each packet (1-262144; 0 means 262144,
        the default). The original length is kept in each record.
    -q, --quiet
        Do not print the setup lines (attaching, per-queue binding). The
        --stats lines and the summary still print.
    --duration SECONDS
        Stop after SECONDS (fractions allowed).
    --stats SECONDS
        Print a line on standard error every SECONDS: packet and bit rate,
        packets captured, drops by reason.
    --queues LIST
        Capture only these RX queues: a comma-separated list of numbers and
        ranges, e.g. 0,2-3.
    --xdp-mode auto|native|generic
        Where the XDP program runs: native (in the driver) or generic (after
        the driver builds an skb). auto, the default, tries native first.
    --bind auto|zerocopy|copy
        How the sockets bind: zero-copy (the driver DMAs into xcap's buffers;
        i40e, ice, mlx5 and others) or copy. auto, the default, tries
        zero-copy first. zerocopy fails where the driver cannot do it.
    --force
        Replace an XDP program that is already attached to INTERFACE. Without
        it, xcap refuses and names the program.
    -p, --no-promiscuous-mode
        Leave INTERFACE out of promiscuous mode. By default xcap puts each
        interface in promiscuous mode while it runs, as tcpdump does, so a
        NIC on a mirror port or a tap hands over frames addressed to other
        hosts too. The kernel takes it back when xcap exits, however it
        exits (it is held by a socket, not by the interface's flag).
    --micro
        Write microsecond timestamps (magic a1b2c3d4) instead of nanosecond
        ones (a1b23c4d), for old readers.
    -B, --buffer-size KIB
        Packet buffer per queue in KiB (1024-4194304, default 65536), rounded
        down to a power of two of frames: 2 KiB each where the MTU's largest
        frame fits one and the kernel has AF_XDP multi-buffer, else 4 KiB
        (-v shows which). A larger buffer rides out longer stalls of the
        writer.
    -v, --verbose
        Show libbpf's and libxdp's own messages.
    -h, --help
        Show this text.
    --version
        Show the version.

EXIT STATUS
    0  the capture ended normally (signal, -c, --duration, or the reader of
       standard output went away)
    1  the capture failed while running (e.g. the output could not be written)
    2  bad option or value
    3  no such interface, or the interface is down (at start), or it
       disappeared while capturing
    4  not root, or a capability is missing (CAP_NET_ADMIN, CAP_BPF,
       CAP_NET_RAW, CAP_IPC_LOCK)
    5  the output cannot be written
    6  another XDP program is attached to the interface (see --force)
    7  the kernel or driver refused (zero-copy, the XDP mode, the program,
       a link type xcap cannot label)

EXAMPLES
    xcap -i eth0 -w capture.pcap
    xcap -i eth0 -w - | tcpdump -n -r -
    xcap -i eth0 -c 1000000 -s 128 --stats 1 -w headers.pcap
    xcap -i eth0 -w web.pcap 'tcp port 443 or udp port 443'
    xcap -i eth0 -w - 'not port 22' | tcpdump -n -r -
    xcap -i eth0 --tap -w host.pcapng
    xcap -i eth0 --tap -w - 'port 53' | tcpdump -l -n -r -
    xcap -i eth1 -i eth2 -w both.pcapng
    xcap -D
)";
}

}  // namespace xcap
