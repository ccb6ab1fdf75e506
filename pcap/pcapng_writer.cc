#include "pcap/pcapng_writer.h"

namespace xcap {

pcapng_block& pcapng_block::option(uint16_t code, const void* value, uint16_t len) {
    u16(code).u16(len).raw(value, len);
    static const uint8_t zeros[4] = {};
    raw(zeros, pcapng::pad4(len) - len);
    _has_options = true;
    return *this;
}

pcapng_block& pcapng_block::option(uint16_t code, const std::string& s) {
    if (s.empty()) {
        return *this;
    }
    return option(code, s.data(), uint16_t(std::min<size_t>(s.size(), 65532)));
}

const std::vector<uint8_t>& pcapng_block::finish() {
    if (_has_options) {
        u16(pcapng::opt_endofopt).u16(0);
    }
    uint32_t total = uint32_t(_bytes.size() + 4);
    u32(total);
    std::memcpy(_bytes.data() + 4, &total, 4);
    return _bytes;
}

pcapng_writer::pcapng_writer(output& out, const section_description& section,
                             const std::vector<interface_description>& ifaces, bool nanosecond)
    : _out(out), _nano(nanosecond) {
    pcapng_block shb(pcapng::shb_type);
    shb.u32(pcapng::byte_order_magic).u16(1).u16(0).u64(UINT64_MAX);  // section length unknown
    shb.option(pcapng::shb_hardware, section.hardware);
    shb.option(pcapng::shb_os, section.os);
    shb.option(pcapng::shb_userappl, section.application);
    // The SHB and IDBs go into the output as one item, so that no flush
    // splits them and a failed write never leaves a section without its
    // interfaces.
    std::vector<uint8_t> headers = shb.finish();

    for (const auto& i : ifaces) {
        pcapng_block idb(pcapng::idb_type);
        idb.u16(uint16_t(i.linktype)).u16(0).u32(i.snaplen);
        idb.option(pcapng::if_name, i.name);
        idb.option(pcapng::if_description, i.description);
        uint8_t tsresol = nanosecond ? 9 : 6;
        idb.option(pcapng::if_tsresol, &tsresol, 1);
        idb.option(pcapng::if_hardware, i.hardware);
        if (i.speed_bps) {
            idb.option(pcapng::if_speed, &i.speed_bps, 8);
        }
        if (!i.filter.empty()) {
            // First byte 0: the filter is a libpcap filter string.
            std::string f(1, '\0');
            f += i.filter;
            idb.option(pcapng::if_filter, f);
        }
        const auto& b = idb.finish();
        headers.insert(headers.end(), b.begin(), b.end());
        _snaplens.push_back(i.snaplen);
    }
    _out.append(headers.data(), headers.size());
    _out.begin_records(record_framing::pcapng);
}

void pcapng_writer::write_statistics(uint32_t interface, const interface_statistics& st) {
    pcapng_block isb(pcapng::isb_type);
    const uint64_t now = _nano ? st.end_ns : st.end_ns / 1000;
    isb.u32(interface).u32(uint32_t(now >> 32)).u32(uint32_t(now));
    // isb_starttime/endtime are 32-bit high then 32-bit low, like EPB stamps.
    auto stamp = [&](uint16_t code, uint64_t ns) {
        uint64_t t = _nano ? ns : ns / 1000;
        uint32_t v[2] = {uint32_t(t >> 32), uint32_t(t)};
        isb.option(code, v, 8);
    };
    stamp(pcapng::isb_starttime, st.start_ns);
    stamp(pcapng::isb_endtime, st.end_ns);
    isb.option(pcapng::isb_ifrecv, &st.received, 8);
    isb.option(pcapng::isb_ifdrop, &st.dropped, 8);
    const auto& b = isb.finish();
    _out.append(b.data(), b.size());
}

}  // namespace xcap
