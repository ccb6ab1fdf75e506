#include "engine/xsk.h"

#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "common/error.h"
#include "common/fd.h"

namespace xcap {

bool xsk_multibuffer_supported() {
    static const bool supported = [] {
        if (const char* no = std::getenv("XCAP_NO_MULTIBUFFER"); no && *no && std::strcmp(no, "0") != 0) {
            return false;
        }
        unique_fd fd(socket(AF_XDP, SOCK_RAW | SOCK_CLOEXEC, 0));
        if (!fd) {
            return false;
        }
        // The flags are checked before the interface is looked up.
        sockaddr_xdp sxdp{};
        sxdp.sxdp_family = AF_XDP;
        sxdp.sxdp_flags = XDP_USE_SG | XDP_COPY;
        sxdp.sxdp_ifindex = 0;
        return bind(fd.get(), reinterpret_cast<sockaddr*>(&sxdp), sizeof(sxdp)) != 0 && errno == ENODEV;
    }();
    return supported;
}

const char* to_string(bind_mode mode) {
    static constexpr const char* names[] = {"auto", "zero-copy", "copy"};  // in the enum's order
    return names[static_cast<size_t>(mode)];
}

xsk_queue::xsk_queue(const std::string& ifname, uint32_t queue, const xsk_config& cfg, bind_mode mode)
    : _queue(queue), _cfg(cfg) {
    _area_size = size_t(cfg.frame_size) * cfg.frame_count;
    _memory = std::make_unique<packet_memory>(_area_size);
    _area = _memory->data();

    std::string where = ifname + " queue " + std::to_string(queue);
    // The binds to try, in order of preference. With multi-buffer, each mode
    // is tried with XDP_USE_SG first, then without (a zero-copy driver may
    // lack multi-buffer support; the capture then says what it cannot take).
    // The packet memory is released by its owner if every try fails.
    std::vector<uint16_t> tries;
    const uint16_t sg = cfg.multi_buffer ? XDP_USE_SG : 0;
    auto both = [&](uint16_t m) {
        if (sg) {
            tries.push_back(uint16_t(m | sg));
        }
        tries.push_back(m);
    };
    if (mode == bind_mode::copy) {
        both(XDP_COPY);
    } else if (mode == bind_mode::zerocopy) {
        both(XDP_ZEROCOPY);
    } else if (sg && cfg.prefer_multi_buffer) {
        tries = {uint16_t(XDP_ZEROCOPY | sg), uint16_t(XDP_COPY | sg), XDP_ZEROCOPY, XDP_COPY};
    } else {
        both(XDP_ZEROCOPY);
        both(XDP_COPY);
    }
    for (size_t i = 0; i < tries.size(); ++i) {
        try {
            create(ifname, tries[i]);
            _multi_buffer = (tries[i] & XDP_USE_SG) != 0;
            break;
        } catch (const failure& e) {
            if (i + 1 < tries.size()) {
                continue;
            }
            if (mode == bind_mode::zerocopy) {
                // At an MTU larger than one buffer, zero-copy also needs
                // the driver to take a frame in several (xdp-zc-max-segs
                // > 1): a driver with zero-copy at 1500 may refuse it here.
                throw failure(failure_kind::unsupported, e.code(), "zero-copy AF_XDP refused on " + where,
                              cfg.prefer_multi_buffer
                                  ? "the driver cannot do zero-copy here, or not at this MTU, where a frame needs "
                                    "several buffers (xcap -D shows AF_XDP zero-copy and xdp-zc-max-segs); lower "
                                    "the MTU, or use --bind copy or --bind auto"
                                  : "the driver cannot do zero-copy here; use --bind copy or --bind auto");
            }
            throw;
        }
    }

    if (cfg.direction == xsk_direction::tx) {
        return;  // TX frames belong to the caller until it sends them
    }
    // Every frame starts on the fill ring, which has one slot per frame.
    uint32_t idx = 0;
    uint32_t n = xsk_ring_prod__reserve(&_fill, cfg.frame_count, &idx);
    for (uint32_t i = 0; i < n; ++i) {
        *xsk_ring_prod__fill_addr(&_fill, idx + i) = uint64_t(i) * cfg.frame_size;
    }
    xsk_ring_prod__submit(&_fill, n);
}

void xsk_queue::create(const std::string& ifname, uint16_t bind_flags) {
    const bool rx = _cfg.direction == xsk_direction::rx;
    xsk_umem_config ucfg{};
    // The ring a direction does not use must still exist; it gets a token size.
    ucfg.fill_size = rx ? _cfg.frame_count : 64;
    ucfg.comp_size = rx ? 64 : _cfg.frame_count;
    ucfg.frame_size = _cfg.frame_size;
    ucfg.frame_headroom = 0;
    if (int err = xsk_umem__create(&_umem, _area, _area_size, &_fill, &_comp, &ucfg)) {
        _umem = nullptr;
        auto kind = err == -EPERM ? failure_kind::permission : failure_kind::runtime;
        throw failure(kind, -err, "cannot register packet buffers (UMEM) for " + ifname,
                          err == -ENOMEM || err == -EPERM ? "lower the buffer size with -B, or grant CAP_IPC_LOCK" : "");
    }
    xsk_socket_config scfg{};
    scfg.rx_size = rx ? _cfg.frame_count : 0;
    scfg.tx_size = rx ? 0 : _cfg.frame_count;
    scfg.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD;  // xcap attaches its own program
    scfg.bind_flags = bind_flags | XDP_USE_NEED_WAKEUP;
    int err = 0;
    // A socket closed moments ago (the previous xcap run) keeps its queue
    // until the kernel's deferred teardown runs: EBUSY for a few ms. Retry
    // for up to a second before calling the queue taken.
    for (int attempt = 0; attempt < 50; ++attempt) {
        err = xsk_socket__create(&_xsk, ifname.c_str(), _queue, _umem, rx ? &_rx : nullptr, rx ? nullptr : &_tx,
                                 &scfg);
        if (err != -EBUSY) {
            break;
        }
        timespec nap{0, 20'000'000};
        nanosleep(&nap, nullptr);
    }
    if (err) {
        _xsk = nullptr;
        xsk_umem__delete(_umem);
        _umem = nullptr;
        throw failure(failure_kind::unsupported, -err,
                          "cannot bind an AF_XDP socket to " + ifname + " queue " + std::to_string(_queue),
                          "check the queue exists and no other AF_XDP socket is bound to it");
    }
    xdp_options opts{};
    socklen_t len = sizeof(opts);
    _zero_copy = getsockopt(xsk_socket__fd(_xsk), SOL_XDP, XDP_OPTIONS, &opts, &len) == 0 &&
                 (opts.flags & XDP_OPTIONS_ZEROCOPY);
}

void xsk_queue::destroy_socket() {
    if (_xsk) {
        xsk_socket__delete(_xsk);
        _xsk = nullptr;
    }
    if (_umem) {
        xsk_umem__delete(_umem);
        _umem = nullptr;
    }
}

xsk_queue::~xsk_queue() {
    destroy_socket();
}

int xsk_queue::fd() const { return xsk_socket__fd(_xsk); }

std::optional<xdp_statistics> xsk_queue::statistics() const {
    xdp_statistics st{};
    socklen_t len = sizeof(st);
    if (getsockopt(fd(), SOL_XDP, XDP_STATISTICS, &st, &len) != 0) {
        return std::nullopt;
    }
    // Kernels before 5.9 fill only the first three fields; the rest stay 0.
    return st;
}

}  // namespace xcap
