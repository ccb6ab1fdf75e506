#!/usr/bin/env python3
"""Writes N IPv4/UDP packets (198.18.5.2 -> 198.18.5.1) into tun device NAME,
as if they had arrived on it: the test's way to give an IP-only interface
traffic. Usage: tun_inject.py NAME N"""
import fcntl
import os
import struct
import sys

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000


def checksum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def main():
    name, count = sys.argv[1], int(sys.argv[2])
    fd = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    for i in range(count):
        payload = bytes([i & 0xFF]) * 16
        udp = struct.pack("!HHHH", 40000 + i, 9, 8 + len(payload), 0) + payload
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), i, 0, 64, 17, 0,
                         bytes([198, 18, 5, 2]), bytes([198, 18, 5, 1]))
        ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
        os.write(fd, ip + udp)
    os.close(fd)


if __name__ == "__main__":
    main()
