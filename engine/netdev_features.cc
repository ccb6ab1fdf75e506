#include "engine/netdev_features.h"

#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <cerrno>
#include <cstring>
#include <iterator>

#include "common/error.h"
#include "common/fd.h"

namespace xcap {
namespace {

struct attr_view {
    uint16_t type;  // without NLA_F_NESTED / NLA_F_NET_BYTEORDER
    const uint8_t* data;
    size_t len;
};

// Calls fn on every attribute in [p, p + len). False when an attribute's
// length runs past the end or is shorter than its own header: a reply that
// cannot be trusted. Fewer than four bytes left over are padding, as the
// kernel's own nla_for_each_attr treats them. Everything is copied out with
// memcpy: a u64 need not be 8-byte aligned (no pad attribute on x86).
template <typename F>
bool for_each_attr(const uint8_t* p, size_t len, F&& fn) {
    size_t off = 0;
    while (len - off >= NLA_HDRLEN) {
        nlattr a;
        std::memcpy(&a, p + off, sizeof(a));
        if (a.nla_len < NLA_HDRLEN || a.nla_len > len - off) {
            return false;
        }
        if (!fn(attr_view{uint16_t(a.nla_type & NLA_TYPE_MASK), p + off + NLA_HDRLEN, size_t(a.nla_len) - NLA_HDRLEN})) {
            return false;
        }
        off += NLA_ALIGN(a.nla_len);
        if (off >= len) {
            break;
        }
    }
    return true;
}

// An unsigned attribute of any width the kernel uses (newer specs say
// "uint": 4 or 8 bytes as the value needs).
bool read_uint(const attr_view& a, uint64_t& v) {
    switch (a.len) {
        case 1: v = a.data[0]; return true;
        case 2: { uint16_t x; std::memcpy(&x, a.data, 2); v = x; return true; }
        case 4: { uint32_t x; std::memcpy(&x, a.data, 4); v = x; return true; }
        case 8: std::memcpy(&v, a.data, 8); return true;
        default: return false;
    }
}

// Walks the messages of one buffer with sequence number `seq`. `fn(type,
// genl payload after the genl header, length)` returns a status: more to
// go on, anything else to stop there. NLMSG_ERROR and NLMSG_DONE end the
// walk with their verdict.
template <typename F>
netlink_parse for_each_message(const uint8_t* data, size_t len, uint32_t seq, F&& fn) {
    netlink_parse r;
    size_t off = 0;
    while (len - off >= NLMSG_HDRLEN) {
        nlmsghdr h;
        std::memcpy(&h, data + off, sizeof(h));
        if (h.nlmsg_len < NLMSG_HDRLEN || h.nlmsg_len > len - off) {
            r.what = netlink_parse::malformed;
            return r;
        }
        const uint8_t* payload = data + off + NLMSG_HDRLEN;
        const size_t plen = h.nlmsg_len - NLMSG_HDRLEN;
        off += NLMSG_ALIGN(h.nlmsg_len);
        if (h.nlmsg_seq != seq) {
            continue;
        }
        if (h.nlmsg_flags & NLM_F_DUMP_INTR) {
            r.interrupted = true;
        }
        if (h.nlmsg_type == NLMSG_NOOP) {
            continue;
        }
        if (h.nlmsg_type == NLMSG_ERROR || h.nlmsg_type == NLMSG_DONE) {
            int32_t err = 0;
            if (plen >= sizeof(err)) {
                std::memcpy(&err, payload, sizeof(err));
            } else if (h.nlmsg_type == NLMSG_ERROR) {
                r.what = netlink_parse::malformed;
                return r;
            }
            r.what = err ? netlink_parse::failed : netlink_parse::done;
            r.error = -err;
            return r;
        }
        if (h.nlmsg_type == NLMSG_OVERRUN) {
            r.what = netlink_parse::failed;
            r.error = ENOBUFS;
            return r;
        }
        if (plen < GENL_HDRLEN) {
            r.what = netlink_parse::malformed;
            return r;
        }
        r.what = fn(h.nlmsg_type, payload + GENL_HDRLEN, plen - GENL_HDRLEN);
        if (r.what != netlink_parse::more) {
            return r;
        }
        if (off >= len) {
            break;
        }
    }
    return r;
}

std::vector<std::string> names_of(uint64_t bits, const char* const* names, size_t count) {
    std::vector<std::string> out;
    for (unsigned bit = 0; bit < 64; ++bit) {
        if (bits & (uint64_t(1) << bit)) {
            out.push_back(bit < count && names[bit] ? names[bit] : "bit-" + std::to_string(bit));
        }
    }
    return out;
}

}  // namespace

std::vector<std::string> xdp_feature_names(uint64_t bits) {
    static const char* const names[] = {"basic", "redirect", "ndo-xmit", "xsk-zerocopy",
                                        "hw-offload", "rx-sg", "ndo-xmit-sg"};
    return names_of(bits, names, std::size(names));
}

std::vector<std::string> rx_metadata_names(uint64_t bits) {
    static const char* const names[] = {"timestamp", "hash", "vlan-tag"};
    return names_of(bits, names, std::size(names));
}

std::vector<std::string> xsk_feature_names(uint64_t bits) {
    static const char* const names[] = {"tx-timestamp", "tx-checksum", "tx-launch-time-fifo"};
    return names_of(bits, names, std::size(names));
}

netlink_parse parse_family_reply(const uint8_t* data, size_t len, uint32_t seq, uint16_t& family_id,
                                 uint8_t wanted_cmd, bool& has_cmd) {
    return for_each_message(data, len, seq, [&](uint16_t type, const uint8_t* attrs, size_t alen) {
        if (type != GENL_ID_CTRL) {
            return netlink_parse::more;
        }
        bool have_id = false;
        bool listed_ops = false;
        has_cmd = false;
        bool ok = for_each_attr(attrs, alen, [&](const attr_view& a) {
            uint64_t v = 0;
            if (a.type == CTRL_ATTR_FAMILY_ID) {
                if (!read_uint(a, v) || v > 0xffff) {
                    return false;
                }
                family_id = uint16_t(v);
                have_id = true;
            } else if (a.type == CTRL_ATTR_OPS) {
                listed_ops = true;
                // A list of nested entries, each with CTRL_ATTR_OP_ID and
                // CTRL_ATTR_OP_FLAGS.
                return for_each_attr(a.data, a.len, [&](const attr_view& op) {
                    return for_each_attr(op.data, op.len, [&](const attr_view& f) {
                        uint64_t id = 0;
                        if (f.type == CTRL_ATTR_OP_ID) {
                            if (!read_uint(f, id)) {
                                return false;
                            }
                            has_cmd = has_cmd || id == wanted_cmd;
                        }
                        return true;
                    });
                });
            }
            return true;
        });
        if (!ok || !have_id) {
            return netlink_parse::malformed;
        }
        if (!listed_ops) {
            has_cmd = true;
        }
        return netlink_parse::done;
    });
}

netlink_parse parse_dev_dump(const uint8_t* data, size_t len, uint32_t seq, uint16_t family_id,
                             std::map<uint32_t, netdev_xdp_info>& out) {
    return for_each_message(data, len, seq, [&](uint16_t type, const uint8_t* attrs, size_t alen) {
        if (type != family_id) {
            return netlink_parse::more;
        }
        netdev_xdp_info info;
        bool have_ifindex = false;
        bool ok = for_each_attr(attrs, alen, [&](const attr_view& a) {
            uint64_t v = 0;
            switch (a.type) {
                case netdev_attr::ifindex:
                    have_ifindex = read_uint(a, v) && v <= UINT32_MAX;
                    info.ifindex = uint32_t(v);
                    return have_ifindex;
                case netdev_attr::xdp_features:
                    return read_uint(a, info.xdp_features);
                case netdev_attr::xdp_zc_max_segs:
                    info.has_zc_max_segs = read_uint(a, v) && v <= UINT32_MAX;
                    info.zc_max_segs = uint32_t(v);
                    return info.has_zc_max_segs;
                case netdev_attr::xdp_rx_metadata_features:
                    info.has_rx_metadata = read_uint(a, info.rx_metadata);
                    return info.has_rx_metadata;
                case netdev_attr::xsk_features:
                    info.has_xsk_features = read_uint(a, info.xsk_features);
                    return info.has_xsk_features;
                default:
                    return true;  // the pad attribute, and whatever later kernels add
            }
        });
        if (!ok || !have_ifindex) {
            return netlink_parse::malformed;
        }
        out[info.ifindex] = info;
        return netlink_parse::more;
    });
}

namespace {

[[noreturn]] void netlink_failure(int err, const std::string& what) {
    bool denied = err == EPERM || err == EACCES;
    throw failure(denied ? failure_kind::permission : failure_kind::runtime, err,
                  "reading XDP features from the kernel (netdev netlink, " + what + ") failed",
                  denied ? "a security policy (seccomp, SELinux, AppArmor) denies generic netlink here"
                         : "report it with the output of `uname -r`");
}

// Throws for a reply that failed or is malformed; true once it is complete.
bool reply_complete(const netlink_parse& r, const std::string& what) {
    if (r.what == netlink_parse::failed) {
        netlink_failure(r.error, what);
    }
    if (r.what == netlink_parse::malformed) {
        netlink_failure(EBADMSG, what);
    }
    return r.what == netlink_parse::done;
}

class genl_socket {
public:
    genl_socket() : _fd(socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC)) {
        if (!_fd) {
            netlink_failure(errno, "socket");
        }
        // The kernel answers at once; the limit only turns a wedged kernel
        // into one line instead of a hang.
        timeval tv{5, 0};
        setsockopt(_fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    }

    void send(uint16_t type, uint16_t flags, uint32_t seq, uint8_t cmd, const std::vector<uint8_t>& attrs) {
        std::vector<uint8_t> msg(NLMSG_HDRLEN + GENL_HDRLEN + attrs.size());
        nlmsghdr h{};
        h.nlmsg_len = uint32_t(msg.size());
        h.nlmsg_type = type;
        h.nlmsg_flags = flags;
        h.nlmsg_seq = seq;
        genlmsghdr g{};
        g.cmd = cmd;
        g.version = 1;
        std::memcpy(msg.data(), &h, sizeof(h));
        std::memcpy(msg.data() + NLMSG_HDRLEN, &g, sizeof(g));
        if (!attrs.empty()) {
            std::memcpy(msg.data() + NLMSG_HDRLEN + GENL_HDRLEN, attrs.data(), attrs.size());
        }
        sockaddr_nl kernel{};
        kernel.nl_family = AF_NETLINK;
        if (sendto(_fd.get(), msg.data(), msg.size(), 0, reinterpret_cast<sockaddr*>(&kernel), sizeof(kernel)) < 0) {
            netlink_failure(errno, "send");
        }
    }

    // One datagram into the buffer; its length.
    size_t receive() {
        iovec iov{_buf.data(), _buf.size()};
        msghdr m{};
        m.msg_iov = &iov;
        m.msg_iovlen = 1;
        ssize_t n;
        do {
            n = recvmsg(_fd.get(), &m, 0);
        } while (n < 0 && errno == EINTR);
        if (n < 0) {
            netlink_failure(errno == EAGAIN ? ETIMEDOUT : errno, "receive");
        }
        if (m.msg_flags & MSG_TRUNC) {
            netlink_failure(EMSGSIZE, "receive");
        }
        return size_t(n);
    }
    const uint8_t* data() const { return _buf.data(); }

private:
    unique_fd _fd;
    std::vector<uint8_t> _buf = std::vector<uint8_t>(64 * 1024);
};

}  // namespace

netdev_report query_netdev_features() {
    netdev_report report;
    genl_socket sock;

    const char name[] = "netdev";
    std::vector<uint8_t> attr(NLA_ALIGN(NLA_HDRLEN + sizeof(name)));
    nlattr a{uint16_t(NLA_HDRLEN + sizeof(name)), CTRL_ATTR_FAMILY_NAME};
    std::memcpy(attr.data(), &a, sizeof(a));
    std::memcpy(attr.data() + NLA_HDRLEN, name, sizeof(name));
    uint32_t seq = 1;
    sock.send(GENL_ID_CTRL, NLM_F_REQUEST, seq, CTRL_CMD_GETFAMILY, attr);
    uint16_t family = 0;
    bool has_dev_get = false;
    for (;;) {
        netlink_parse r = parse_family_reply(sock.data(), sock.receive(), seq, family, netdev_cmd_dev_get, has_dev_get);
        if (r.what == netlink_parse::failed && r.error == ENOENT) {
            return report;  // no such family: a kernel before 6.3
        }
        if (reply_complete(r, "family lookup")) {
            break;
        }
    }
    if (!has_dev_get) {
        return report;
    }

    // A dump that raced a device change says so (NLM_F_DUMP_INTR); ask again
    // a few times, then take what came.
    for (int attempt = 0; attempt < 3; ++attempt) {
        report.by_ifindex.clear();
        sock.send(family, NLM_F_REQUEST | NLM_F_DUMP, ++seq, netdev_cmd_dev_get, {});
        bool interrupted = false;
        for (;;) {
            netlink_parse r = parse_dev_dump(sock.data(), sock.receive(), seq, family, report.by_ifindex);
            interrupted = interrupted || r.interrupted;
            if (r.what == netlink_parse::failed && r.error == EOPNOTSUPP) {
                return netdev_report{};
            }
            if (reply_complete(r, "dev-get")) {
                break;
            }
        }
        if (!interrupted) {
            break;
        }
    }
    report.reported = true;
    return report;
}

}  // namespace xcap
