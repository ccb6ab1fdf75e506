#pragma once

// Small formatting helpers for the summary and --stats lines (modes/ only).

#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <string>

namespace xcap::text {

// printf into a std::string; lines here are short (512 bytes at most).
inline std::string fmt(const char* f, auto... args) {
    char buf[512];
    std::snprintf(buf, sizeof(buf), f, args...);
    return buf;
}

// "1 packet", "2 packets".
inline std::string plural(uint64_t n, const char* word) {
    return fmt("%" PRIu64 " %s%s", n, word, n == 1 ? "" : "s");
}

}  // namespace xcap::text
