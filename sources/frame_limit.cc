#include "sources/frame_limit.h"

#include <cerrno>

#include "common/error.h"

namespace xcap {
namespace {

const char* because(frame_limit_cause cause) {
    return cause == frame_limit_cause::kernel
               ? "this kernel's AF_XDP has no multi-buffer support (Linux 6.6 or later has it)"
               : "the driver's zero-copy mode takes no multi-buffer packets (try --bind copy)";
}

uint32_t overhead(const device_info& dev) { return largest_frame(dev, 0); }

}  // namespace

uint32_t largest_frame(const device_info& dev, uint32_t mtu) {
    return linktype_for(dev.arphrd) == 101 ? mtu : mtu + 14 + 4;
}

std::string check_frame_limit(const device_info& dev, uint32_t limit, frame_limit_cause cause, xdp_mode mode) {
    const uint32_t largest = largest_frame(dev, dev.mtu);
    if (limit == 0 || largest <= limit) {
        return "";
    }
    const std::string what = dev.name + ": MTU " + std::to_string(dev.mtu) + " allows frames of up to " +
                             std::to_string(largest) + " bytes, but xcap can capture at most " +
                             std::to_string(limit) + " bytes per frame here: " + because(cause);
    if (mode == xdp_mode::native) {
        const uint32_t mtu = limit - overhead(dev);
        throw failure(failure_kind::unsupported, what,
                      "lower the MTU to " + std::to_string(mtu) + " (`ip link set dev " + dev.name + " mtu " +
                          std::to_string(mtu) +
                          "`), or leave out --xdp-mode native to capture the rest and count longer frames as "
                          "too_large");
    }
    return what + "; longer frames are dropped and counted as too_large";
}

std::string mtu_change_line(const device_info& dev, uint32_t mtu, uint32_t limit) {
    const uint32_t largest = largest_frame(dev, mtu);
    if (limit == 0 || largest <= limit) {
        return "";
    }
    return dev.name + ": MTU changed to " + std::to_string(mtu) + " while capturing: frames of up to " +
           std::to_string(largest) + " bytes can arrive, but this capture takes at most " + std::to_string(limit) +
           " bytes per frame; longer frames are dropped and counted as too_large";
}

}  // namespace xcap
