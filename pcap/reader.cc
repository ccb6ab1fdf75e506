#include "pcap/reader.h"

#include <pcap/pcap.h>

namespace xcap {

capture_reader::capture_reader(const std::string& path) : _name(path == "-" ? "standard input" : path) {
    char err[PCAP_ERRBUF_SIZE] = {};
    _p = pcap_open_offline_with_tstamp_precision(path.c_str(), PCAP_TSTAMP_PRECISION_NANO, err);
    if (!_p) {
        throw read_error(_name + ": " + err);
    }
    _linktype = pcap_datalink(_p);
}

capture_reader::capture_reader(FILE* stream, std::string name) : _name(std::move(name)) {
    char err[PCAP_ERRBUF_SIZE] = {};
    _p = pcap_fopen_offline_with_tstamp_precision(stream, PCAP_TSTAMP_PRECISION_NANO, err);
    if (!_p) {
        fclose(stream);
        throw read_error(_name + ": " + err);
    }
    _linktype = pcap_datalink(_p);
}

capture_reader::~capture_reader() {
    if (_p) {
        pcap_close(_p);
    }
}

bool capture_reader::next(read_packet& p) {
    // The offset of the record about to be read, for the error message.
    long offset = ftell(pcap_file(_p));
    pcap_pkthdr* h = nullptr;
    const u_char* d = nullptr;
    int rc = pcap_next_ex(_p, &h, &d);
    if (rc == 1) {
        ++_count;
        p.ts_ns = uint64_t(h->ts.tv_sec) * 1'000'000'000 + uint64_t(h->ts.tv_usec);
        p.caplen = h->caplen;
        p.len = h->len;
        p.data = d;
        return true;
    }
    if (rc == PCAP_ERROR_BREAK) {
        return false;
    }
    std::string where = _name + ": packet " + std::to_string(_count + 1);
    if (offset >= 0) {
        where += " at byte " + std::to_string(offset);
    }
    throw read_error(where + ": " + pcap_geterr(_p));
}

std::string capture_reader::linktype_name() const {
    const char* name = pcap_datalink_val_to_name(_linktype);
    const char* desc = pcap_datalink_val_to_description(_linktype);
    std::string s = name ? name : "DLT " + std::to_string(_linktype);
    if (desc) {
        s += std::string(" (") + desc + ")";
    }
    return s;
}

void capture_reader::require_ethernet() const {
    if (_linktype != DLT_EN10MB) {
        throw read_error(_name + ": link type " + linktype_name() + " is not Ethernet; only Ethernet captures can be sent");
    }
}

}  // namespace xcap
