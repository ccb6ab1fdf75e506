#!/usr/bin/env python3
"""A second, independent read of the kernel's netdev generic-netlink family
(the one `xcap -D` reads from C++), for tests/netns/devices_test.cc.

Prints "no-family" when the kernel has no "netdev" family, else a line per
device of this network namespace with every integer attribute it sent, by
its name in <linux/netdev.h>:
  ifindex=3 xdp-features=35 xdp-rx-metadata-features=7 xsk-features=0
Written from the netlink and genetlink UAPI alone; shares nothing with xcap.
"""
import errno
import os
import socket
import struct
import sys

NETLINK_GENERIC = 16
GENL_ID_CTRL = 0x10
CTRL_CMD_GETFAMILY = 3
CTRL_ATTR_FAMILY_ID = 1
CTRL_ATTR_FAMILY_NAME = 2
NLM_F_REQUEST, NLM_F_MULTI, NLM_F_DUMP = 0x1, 0x2, 0x300
NLMSG_ERROR, NLMSG_DONE = 2, 3
NETDEV_CMD_DEV_GET = 1


def attributes(payload):
    out = {}
    off = 0
    while off + 4 <= len(payload):
        length, kind = struct.unpack_from("=HH", payload, off)
        if length < 4:
            break
        out[kind & 0x3FFF] = payload[off + 4:off + length]
        off += (length + 3) & ~3
    return out


def request(sock, kind, flags, seq, cmd, attrs=b""):
    body = struct.pack("=BBH", cmd, 1, 0) + attrs
    sock.send(struct.pack("=IHHII", 16 + len(body), kind, flags, seq, 0) + body)


def messages(sock, seq, dump):
    """Yields (type, payload) of the reply to `seq` until it ends (a dump ends
    only with NLMSG_DONE: its parts need not carry NLM_F_MULTI)."""
    while True:
        data = sock.recv(1 << 20)
        off = 0
        while off + 16 <= len(data):
            length, kind, flags, mseq, _ = struct.unpack_from("=IHHII", data, off)
            payload = data[off + 16:off + length]
            off += (length + 3) & ~3
            if mseq != seq:
                continue
            if kind == NLMSG_ERROR:
                (err,) = struct.unpack_from("=i", payload)
                if err:
                    raise OSError(-err, os.strerror(-err))
                return
            if kind == NLMSG_DONE:
                return
            yield kind, payload
            if not flags & NLM_F_MULTI and not dump:
                return


def main():
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_GENERIC)
    name = b"netdev\0"
    attr = struct.pack("=HH", 4 + len(name), CTRL_ATTR_FAMILY_NAME) + name
    attr += b"\0" * (-len(attr) % 4)
    request(sock, GENL_ID_CTRL, NLM_F_REQUEST, 1, CTRL_CMD_GETFAMILY, attr)
    family = None
    try:
        for _, payload in messages(sock, 1, False):
            family = struct.unpack("=H", attributes(payload[4:])[CTRL_ATTR_FAMILY_ID][:2])[0]
    except OSError as e:
        if e.errno != errno.ENOENT:
            raise
    if family is None:
        print("no-family")
        return
    request(sock, family, NLM_F_REQUEST | NLM_F_DUMP, 2, NETDEV_CMD_DEV_GET)
    names = {1: "ifindex", 3: "xdp-features", 4: "xdp-zc-max-segs",
             5: "xdp-rx-metadata-features", 6: "xsk-features"}
    for _, payload in messages(sock, 2, True):
        words = []
        for kind, raw in sorted(attributes(payload[4:]).items()):
            if kind in names:
                words.append("%s=%d" % (names[kind], int.from_bytes(raw, sys.byteorder)))
        print(" ".join(words))


if __name__ == "__main__":
    main()
