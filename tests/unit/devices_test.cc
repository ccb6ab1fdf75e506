// `xcap -D`: the netdev generic-netlink parsers fed canned kernel replies
// built here byte by byte (nesting, padding, unaligned u64s, several
// messages per buffer, errors and broken lengths), the listing's format,
// and the option.
#include <gtest/gtest.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>

#include <cerrno>
#include <cstring>

#include "cli/interfaces.h"
#include "cli/options.h"
#include "engine/netdev_features.h"

using namespace xcap;

namespace {

// Writes netlink messages the way the kernel lays them out: 4-byte aligned
// headers and attributes, lengths patched when a message or nest closes.
class nl_builder {
public:
    // A generic-netlink message: nlmsghdr + genlmsghdr.
    nl_builder& begin(uint16_t type, uint32_t seq, uint16_t flags = 0, uint8_t cmd = 1) {
        _msg = _b.size();
        nlmsghdr h{};
        h.nlmsg_type = type;
        h.nlmsg_flags = flags;
        h.nlmsg_seq = seq;
        h.nlmsg_pid = 4242;
        put(&h, sizeof(h));
        genlmsghdr g{};
        g.cmd = cmd;
        g.version = 1;
        put(&g, sizeof(g));
        return *this;
    }
    nl_builder& end() {
        patch32(_msg, uint32_t(_b.size() - _msg));
        return *this;
    }
    nl_builder& attr(uint16_t type, const void* data, size_t len) {
        nlattr a{uint16_t(NLA_HDRLEN + len), type};
        put(&a, sizeof(a));
        put(data, len);
        align();
        return *this;
    }
    nl_builder& u16(uint16_t type, uint16_t v) { return attr(type, &v, sizeof(v)); }
    nl_builder& u32(uint16_t type, uint32_t v) { return attr(type, &v, sizeof(v)); }
    // As nla_put_u64_64bit on an architecture without efficient unaligned
    // access: a pad attribute first when the value would not be 8-aligned.
    nl_builder& u64_padded(uint16_t type, uint64_t v, uint16_t pad_type) {
        if ((_b.size() + NLA_HDRLEN) % 8 != 0) {
            attr(pad_type, nullptr, 0);
        }
        return attr(type, &v, sizeof(v));
    }
    // As on x86: wherever it falls.
    nl_builder& u64(uint16_t type, uint64_t v) { return attr(type, &v, sizeof(v)); }
    nl_builder& str(uint16_t type, const char* s) { return attr(type, s, std::strlen(s) + 1); }
    nl_builder& nest(uint16_t type) {
        _nests.push_back(_b.size());
        nlattr a{0, type};
        put(&a, sizeof(a));
        return *this;
    }
    nl_builder& unnest() {
        size_t at = _nests.back();
        _nests.pop_back();
        uint16_t len = uint16_t(_b.size() - at);
        std::memcpy(&_b[at], &len, sizeof(len));
        return *this;
    }
    // NLMSG_ERROR (err 0 is an ACK) and NLMSG_DONE carry a plain int, not a
    // genl header.
    nl_builder& control(uint16_t type, uint32_t seq, int32_t err, uint16_t flags = 0) {
        size_t at = _b.size();
        nlmsghdr h{};
        h.nlmsg_type = type;
        h.nlmsg_flags = flags;
        h.nlmsg_seq = seq;
        put(&h, sizeof(h));
        put(&err, sizeof(err));
        if (type == NLMSG_ERROR) {
            nlmsghdr echoed{};
            put(&echoed, sizeof(echoed));
        }
        patch32(at, uint32_t(_b.size() - at));
        return *this;
    }
    std::vector<uint8_t>& bytes() { return _b; }
    size_t size() const { return _b.size(); }

private:
    void put(const void* p, size_t n) {
        const auto* c = static_cast<const uint8_t*>(p);
        _b.insert(_b.end(), c, c + n);
    }
    void align() { _b.resize(NLA_ALIGN(_b.size()), 0); }
    void patch32(size_t at, uint32_t v) { std::memcpy(&_b[at], &v, sizeof(v)); }

    std::vector<uint8_t> _b;
    size_t _msg = 0;
    std::vector<size_t> _nests;
};

// A CTRL_CMD_NEWFAMILY reply for "netdev" as the kernel sends it: name, id,
// version, header size, max attribute, the operations (a nest of nests) and
// the multicast groups (another nest of nests), `nested_flag` on the nests
// or not (older kernels send them without NLA_F_NESTED).
nl_builder family_reply(uint32_t seq, std::vector<uint32_t> ops, bool nested_flag = false) {
    const uint16_t nf = nested_flag ? NLA_F_NESTED : 0;
    nl_builder b;
    b.begin(GENL_ID_CTRL, seq, 0, CTRL_CMD_NEWFAMILY)
        .str(CTRL_ATTR_FAMILY_NAME, "netdev")
        .u16(CTRL_ATTR_FAMILY_ID, 23)
        .u32(CTRL_ATTR_VERSION, 1)
        .u32(CTRL_ATTR_HDRSIZE, 0)
        .u32(CTRL_ATTR_MAXATTR, 6);
    b.nest(CTRL_ATTR_OPS | nf);
    uint16_t i = 1;
    for (uint32_t op : ops) {
        b.nest(i++ | nf).u32(CTRL_ATTR_OP_ID, op).u32(CTRL_ATTR_OP_FLAGS, 0x1e).unnest();
    }
    b.unnest();
    b.nest(CTRL_ATTR_MCAST_GROUPS | nf)
        .nest(1 | nf)
        .str(CTRL_ATTR_MCAST_GRP_NAME, "mgmt")
        .u32(CTRL_ATTR_MCAST_GRP_ID, 7)
        .unnest()
        .unnest();
    return std::move(b.end());
}

}  // namespace

TEST(NetdevFamily, FindsTheIdAndTheDevGetOperationThroughNestedAttributes) {
    for (bool nested_flag : {false, true}) {
        auto b = family_reply(7, {1, 5, 6, 7}, nested_flag);
        uint16_t id = 0;
        bool has = false;
        auto r = parse_family_reply(b.bytes().data(), b.size(), 7, id, netdev_cmd_dev_get, has);
        EXPECT_EQ(r.what, netlink_parse::done) << "NLA_F_NESTED " << nested_flag;
        EXPECT_EQ(id, 23);
        EXPECT_TRUE(has);
    }
}

TEST(NetdevFamily, AFamilyWithoutDevGetIsSaidSo) {
    auto b = family_reply(7, {5, 6});
    uint16_t id = 0;
    bool has = true;
    auto r = parse_family_reply(b.bytes().data(), b.size(), 7, id, netdev_cmd_dev_get, has);
    EXPECT_EQ(r.what, netlink_parse::done);
    EXPECT_FALSE(has);
}

TEST(NetdevFamily, AMissingFamilyIsENOENT) {
    nl_builder b;
    b.control(NLMSG_ERROR, 7, -ENOENT);
    uint16_t id = 0;
    bool has = false;
    auto r = parse_family_reply(b.bytes().data(), b.size(), 7, id, netdev_cmd_dev_get, has);
    EXPECT_EQ(r.what, netlink_parse::failed);
    EXPECT_EQ(r.error, ENOENT);
}

TEST(NetdevFamily, AReplyWithoutAnIdOrWithABrokenNestIsMalformed) {
    nl_builder b;
    b.begin(GENL_ID_CTRL, 7).str(CTRL_ATTR_FAMILY_NAME, "netdev").end();
    uint16_t id = 0;
    bool has = false;
    EXPECT_EQ(parse_family_reply(b.bytes().data(), b.size(), 7, id, 1, has).what, netlink_parse::malformed);

    // The first operation's nest claims more bytes than its parent holds.
    auto f = family_reply(7, {1});
    auto& bytes = f.bytes();
    // Find the CTRL_ATTR_OPS nest (after name 12, id 8, version 8, hdrsize 8, maxattr 8).
    size_t ops = NLMSG_HDRLEN + GENL_HDRLEN + 12 + 8 + 8 + 8 + 8;
    uint16_t type;
    std::memcpy(&type, &bytes[ops + 2], 2);
    ASSERT_EQ(type & NLA_TYPE_MASK, CTRL_ATTR_OPS);
    uint16_t huge = 200;
    std::memcpy(&bytes[ops + NLA_HDRLEN], &huge, 2);
    EXPECT_EQ(parse_family_reply(bytes.data(), f.size(), 7, id, 1, has).what, netlink_parse::malformed);
}

TEST(NetdevDump, ReadsEveryDeviceWithPaddedAndUnalignedU64sAndSkipsStrangers) {
    nl_builder b;
    // lo: nothing, u64s behind pad attributes.
    b.begin(23, 9).u32(netdev_attr::ifindex, 1)
        .u64_padded(netdev_attr::xdp_features, 0, netdev_attr::pad)
        .u64_padded(netdev_attr::xdp_rx_metadata_features, 0, netdev_attr::pad)
        .end();
    // Another request's message in the same buffer: skipped.
    b.begin(23, 8).u32(netdev_attr::ifindex, 99).u64(netdev_attr::xdp_features, 0x7f).end();
    // A zero-copy NIC, u64s wherever they fall, an attribute from a later
    // kernel, and the attribute order changed.
    const uint64_t zc = xdp_act::basic | xdp_act::redirect | xdp_act::xsk_zerocopy | xdp_act::rx_sg;
    b.begin(23, 9).u64(netdev_attr::xdp_features, zc)
        .u32(42, 0xdead)
        .u32(netdev_attr::ifindex, 4)
        .u32(netdev_attr::xdp_zc_max_segs, 3)
        .u64(netdev_attr::xdp_rx_metadata_features, 7)
        .u64(netdev_attr::xsk_features, 2)
        .end();
    std::map<uint32_t, netdev_xdp_info> out;
    auto r = parse_dev_dump(b.bytes().data(), b.size(), 9, 23, out);
    EXPECT_EQ(r.what, netlink_parse::more) << "no NLMSG_DONE yet";
    EXPECT_FALSE(r.interrupted);
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(out[1].xdp_features, 0u);
    EXPECT_TRUE(out[1].has_rx_metadata);
    EXPECT_FALSE(out[1].has_zc_max_segs);
    EXPECT_FALSE(out[1].has_xsk_features);
    EXPECT_EQ(out[4].xdp_features, zc);
    EXPECT_TRUE(out[4].has_zc_max_segs);
    EXPECT_EQ(out[4].zc_max_segs, 3u);
    EXPECT_EQ(out[4].rx_metadata, 7u);
    EXPECT_EQ(out[4].xsk_features, 2u);

    // The next buffer: one more device (a u64 sent as 4 bytes, as a "uint"
    // may be) and the end.
    nl_builder c;
    c.begin(23, 9).u32(netdev_attr::ifindex, 5).u32(netdev_attr::xdp_features, 0x23).end();
    c.control(NLMSG_DONE, 9, 0, NLM_F_MULTI);
    r = parse_dev_dump(c.bytes().data(), c.size(), 9, 23, out);
    EXPECT_EQ(r.what, netlink_parse::done);
    EXPECT_EQ(out.at(5).xdp_features, 0x23u);
}

TEST(NetdevDump, AnInterruptedDumpIsFlagged) {
    nl_builder b;
    b.begin(23, 9, NLM_F_MULTI | NLM_F_DUMP_INTR).u32(netdev_attr::ifindex, 1).end();
    b.control(NLMSG_DONE, 9, 0, NLM_F_MULTI | NLM_F_DUMP_INTR);
    std::map<uint32_t, netdev_xdp_info> out;
    auto r = parse_dev_dump(b.bytes().data(), b.size(), 9, 23, out);
    EXPECT_EQ(r.what, netlink_parse::done);
    EXPECT_TRUE(r.interrupted);
}

TEST(NetdevDump, AFailedDumpCarriesItsErrno) {
    nl_builder b;
    b.control(NLMSG_DONE, 9, -EPERM, NLM_F_MULTI);
    std::map<uint32_t, netdev_xdp_info> out;
    auto r = parse_dev_dump(b.bytes().data(), b.size(), 9, 23, out);
    EXPECT_EQ(r.what, netlink_parse::failed);
    EXPECT_EQ(r.error, EPERM);
}

TEST(NetdevDump, BrokenLengthsAndMissingPiecesAreMalformed) {
    auto parse = [](nl_builder& b) {
        std::map<uint32_t, netdev_xdp_info> out;
        return parse_dev_dump(b.bytes().data(), b.size(), 9, 23, out).what;
    };
    {
        nl_builder b;  // no ifindex
        b.begin(23, 9).u64(netdev_attr::xdp_features, 1).end();
        EXPECT_EQ(parse(b), netlink_parse::malformed);
    }
    {
        nl_builder b;  // a u64 of 3 bytes
        uint8_t three[3] = {1, 2, 3};
        b.begin(23, 9).u32(netdev_attr::ifindex, 1).attr(netdev_attr::xdp_features, three, 3).end();
        EXPECT_EQ(parse(b), netlink_parse::malformed);
    }
    {
        nl_builder b;  // an attribute running past its message
        b.begin(23, 9).u32(netdev_attr::ifindex, 1).end();
        uint16_t len = 64;
        std::memcpy(&b.bytes()[NLMSG_HDRLEN + GENL_HDRLEN], &len, 2);
        EXPECT_EQ(parse(b), netlink_parse::malformed);
    }
    {
        nl_builder b;  // an attribute shorter than its own header
        b.begin(23, 9).u32(netdev_attr::ifindex, 1).end();
        uint16_t len = 2;
        std::memcpy(&b.bytes()[NLMSG_HDRLEN + GENL_HDRLEN], &len, 2);
        EXPECT_EQ(parse(b), netlink_parse::malformed);
    }
    {
        nl_builder b;  // a message running past the buffer
        b.begin(23, 9).u32(netdev_attr::ifindex, 1).end();
        uint32_t len = 4096;
        std::memcpy(b.bytes().data(), &len, 4);
        EXPECT_EQ(parse(b), netlink_parse::malformed);
    }
    {
        nl_builder b;  // a message too short for its genl header
        b.control(NLMSG_MIN_TYPE + 7, 9, 0);
        std::map<uint32_t, netdev_xdp_info> out;
        auto& bytes = b.bytes();
        uint32_t len = NLMSG_HDRLEN + 2;
        std::memcpy(bytes.data(), &len, 4);
        EXPECT_EQ(parse_dev_dump(bytes.data(), bytes.size(), 9, NLMSG_MIN_TYPE + 7, out).what,
                  netlink_parse::malformed);
    }
}

TEST(NetdevNames, KernelSpellingsInBitOrderAndUnknownBitsByNumber) {
    EXPECT_EQ(xdp_feature_names(0x7f), (std::vector<std::string>{"basic", "redirect", "ndo-xmit", "xsk-zerocopy",
                                                                  "hw-offload", "rx-sg", "ndo-xmit-sg"}));
    EXPECT_EQ(xdp_feature_names(0x201), (std::vector<std::string>{"basic", "bit-9"}));
    EXPECT_TRUE(xdp_feature_names(0).empty());
    EXPECT_EQ(rx_metadata_names(7), (std::vector<std::string>{"timestamp", "hash", "vlan-tag"}));
    EXPECT_EQ(xsk_feature_names(3), (std::vector<std::string>{"tx-timestamp", "tx-checksum"}));
}

namespace {

interface_entry veth_entry() {
    interface_entry e;
    e.dev.name = "xb1";
    e.dev.up = e.dev.running = true;
    e.dev.link = link_status::connected;
    e.dev.driver = "veth";
    e.dev.driver_version = "1.0";
    e.dev.rx_queues = 4;
    e.dev.tx_queues = 2;
    e.dev.mtu = 1400;
    e.features_reported = true;
    netdev_xdp_info x;
    x.ifindex = 3;
    x.xdp_features = xdp_act::basic | xdp_act::redirect | xdp_act::rx_sg;
    x.has_rx_metadata = true;
    x.rx_metadata = 7;
    x.has_xsk_features = true;
    e.xdp = x;
    return e;
}

}  // namespace

TEST(ListInterfaces, AVethGroupReadsAsDocumented) {
    EXPECT_EQ(format_interface(2, veth_entry()),
              "2.xb1 [Up, Running, Connected]\n"
              "    driver: veth 1.0\n"
              "    queues: 4 RX, 2 TX; MTU 1400\n"
              "    XDP modes: native, generic\n"
              "    XDP features: basic, redirect, rx-sg\n"
              "    XDP RX metadata: timestamp, hash, vlan-tag\n"
              "    AF_XDP zero-copy: no (copy mode only)\n"
              "    AF_XDP TX metadata: none\n"
              "    XDP program: none\n");
}

TEST(ListInterfaces, ZeroCopyAliasFirmwareBusAndAnAttachedProgram) {
    interface_entry e = veth_entry();
    e.dev.name = "eth0";
    e.dev.alias = "uplink";
    e.dev.driver = "ice";
    e.dev.driver_version = "1.13.7";
    e.dev.firmware = "4.40 0x8001c967";
    e.dev.bus = "0000:3b:00.0";
    e.xdp->xdp_features |= xdp_act::xsk_zerocopy | xdp_act::hw_offload;
    e.xdp->has_zc_max_segs = true;
    e.xdp->zc_max_segs = 1;
    e.xdp->has_xsk_features = false;
    attached_program p;
    p.id = 42;
    p.name = "xcap_rx";
    p.mode = "native";
    e.program = p;
    std::string text = format_interface(1, e);
    EXPECT_NE(text.find("1.eth0 (uplink) [Up, Running, Connected]\n"), std::string::npos) << text;
    EXPECT_NE(text.find("    driver: ice 1.13.7, firmware 4.40 0x8001c967, bus 0000:3b:00.0\n"), std::string::npos);
    EXPECT_NE(text.find("    XDP modes: native, generic, offload\n"), std::string::npos);
    EXPECT_NE(text.find("    AF_XDP zero-copy: yes (xdp-zc-max-segs 1)\n"), std::string::npos);
    EXPECT_EQ(text.find("AF_XDP TX metadata"), std::string::npos) << "not sent, not shown";
    EXPECT_NE(text.find("    XDP program: 'xcap_rx' (id 42, native mode)\n"), std::string::npos);
}

TEST(ListInterfaces, FlagsAsTcpdumpPrintsThem) {
    interface_entry e;
    e.dev.name = "lo";
    e.dev.up = e.dev.running = e.dev.loopback = true;
    e.features_reported = true;
    e.xdp = netdev_xdp_info{};
    std::string lo = format_interface(1, e);
    EXPECT_EQ(lo.substr(0, lo.find('\n')), "1.lo [Up, Running, Loopback]");
    EXPECT_NE(lo.find("    driver: none reported\n"), std::string::npos);
    EXPECT_NE(lo.find("    XDP modes: generic only\n"), std::string::npos);
    EXPECT_NE(lo.find("    XDP features: none\n"), std::string::npos);

    interface_entry down;
    down.dev.name = "ifb0";
    std::string d = format_interface(3, down);
    EXPECT_EQ(d.substr(0, d.find('\n')), "3.ifb0 [none]");
    down.dev.link = link_status::disconnected;
    d = format_interface(3, down);
    EXPECT_EQ(d.substr(0, d.find('\n')), "3.ifb0 [none, Disconnected]");
    down.dev.wireless = true;
    down.dev.link = link_status::unknown;
    d = format_interface(3, down);
    EXPECT_EQ(d.substr(0, d.find('\n')), "3.ifb0 [Wireless, Association status unknown]");
}

TEST(ListInterfaces, AKernelWithoutTheFamilySaysSoOnce) {
    interface_entry e = veth_entry();
    e.features_reported = false;
    e.xdp.reset();
    std::string text = format_interface(1, e);
    EXPECT_NE(text.find("    XDP features: not reported by this kernel\n"), std::string::npos) << text;
    EXPECT_EQ(text.find("XDP modes"), std::string::npos);
    EXPECT_EQ(text.find("zero-copy"), std::string::npos);
    EXPECT_NE(text.find("    XDP program: none\n"), std::string::npos);
}

TEST(ListInterfaces, DashDAndItsLongSpellingListAndIgnoreTheRest) {
    EXPECT_EQ(parse_command_line({"-D"}).what, cli_command::list_interfaces);
    EXPECT_EQ(parse_command_line({"--list-interfaces"}).what, cli_command::list_interfaces);
    EXPECT_EQ(parse_command_line({"-i", "eth0", "-D"}).what, cli_command::list_interfaces) << "as tcpdump -i X -D";
    EXPECT_THROW(parse_command_line({"--list-interfaces=yes"}), failure);
}
