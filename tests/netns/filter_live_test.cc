// The filter's entry program in the real XDP hook of a veth (native and
// generic), chained into the capture program: the frames it matches reach
// xcap_rx with the filter's metadata, the others are counted and passed on.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <unistd.h>

#include <cstring>

#include "bpf/xcap_abi.h"
#include "filter/filter.h"
#include "frames.h"
#include "netns_test.h"
#include "netns_thread.h"
#include "xcap_rx.skel.h"

using namespace xcap;
using namespace xcap::test;

namespace {

struct rx_skel {
    // Loaded as rx_program loads it: the metadata in the frame where the
    // kernel refuses the metadata area.
    xcap_rx_bpf* skel = [] {
        xcap_rx_bpf* s = xcap_rx_bpf__open();
        if (s) {
            s->rodata->xcap_meta_in_frame = !xdp_metadata_allowed();
            if (xcap_rx_bpf__load(s) != 0) {
                xcap_rx_bpf__destroy(s);
                s = nullptr;
            }
        }
        return s;
    }();
    ~rx_skel() { xcap_rx_bpf__destroy(skel); }
    xcap_rx_counters counters() const {
        std::vector<xcap_rx_counters> per_cpu(static_cast<size_t>(libbpf_num_possible_cpus()));
        uint32_t key = 0;
        xcap_rx_counters sum{};
        if (bpf_map_lookup_elem(bpf_map__fd(skel->maps.xcap_counters), &key, per_cpu.data()) == 0) {
            for (const auto& c : per_cpu) {
                sum.seen += c.seen;
                sum.passed_no_socket += c.passed_no_socket;
            }
        }
        return sum;
    }
};

class FilterLive : public netns_test, public ::testing::WithParamInterface<uint32_t> {};

TEST_P(FilterLive, MatchesReachTheCaptureProgramAndTheRestPass) {
    rx_skel rx;
    ASSERT_NE(rx.skel, nullptr);
    // xcap_rx is SEC("xdp.frags"): the entry must be loaded with frags too.
    xdp_filter_program entry(compile_filter("tcp port 80 or icmp", 262144), {.frags = true});
    entry.set_next(bpf_program__fd(rx.skel->progs.xcap_rx));
    // A bpf_link: the attachment goes when the fd closes, even if the test fails.
    unique_fd link;
    int attach_errno = 0;  // errno is the joining thread's own
    const std::string joined = run_in_netns(net->receiver_ns(), [&] {
        LIBBPF_OPTS(bpf_link_create_opts, opts, .flags = GetParam());
        link.reset(bpf_link_create(entry.fd(), if_nametoindex(net->receiver_if().c_str()), BPF_XDP, &opts));
        attach_errno = errno;
    });
    ASSERT_EQ(joined, "");
    ASSERT_TRUE(link) << "attaching: " << std::strerror(attach_errno);

    const uint64_t n = 1200;
    child g(net->in_sender({MIXGEN_BIN, "-i", net->sender_if(), "-n", std::to_string(n)}), path("gen.out"),
            path("gen.err"));
    ASSERT_EQ(g.wait(60), 0) << read_text(path("gen.err"));
    uint64_t matching = 0;  // the TCP frames all go to port 80
    for (uint32_t seq = 0; seq < n; ++seq) {
        matching += kind_of(seq) == frame_kind::tcp4 || kind_of(seq) == frame_kind::icmp4;
    }
    // Delivery to the receiver is asynchronous: wait for the last counts.
    xcap_rx_counters c{};
    filter_counters f{};
    for (int i = 0; i < 100; ++i) {
        c = rx.counters();
        f = entry.counters();
        if (c.seen + f.rejected >= n) {
            break;
        }
        usleep(20000);
    }
    EXPECT_EQ(c.seen, matching) << "xcap_rx ran for each match, through the tail call";
    EXPECT_EQ(c.passed_no_socket, matching) << "no socket bound: xcap_rx passed them on";
    EXPECT_EQ(f.rejected, n - matching);
    EXPECT_EQ(f.no_metadata, 0u) << "the metadata area was there for every match";
}

INSTANTIATE_TEST_SUITE_P(Modes, FilterLive, ::testing::Values(uint32_t(XDP_FLAGS_DRV_MODE), uint32_t(XDP_FLAGS_SKB_MODE)),
                         [](const auto& info) { return info.param == XDP_FLAGS_DRV_MODE ? "native" : "generic"; });

}  // namespace
