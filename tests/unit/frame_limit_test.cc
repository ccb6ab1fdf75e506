// The jumbo-frame checks of sources/frame_limit.h: what the start line and
// the MTU-change line say, and the refusal of --xdp-mode native.
#include <gtest/gtest.h>

#include "sources/frame_limit.h"
#include "common/error.h"

using namespace xcap;

namespace {

device_info eth(uint32_t mtu) {
    device_info d;
    d.name = "eth9";
    d.mtu = mtu;
    d.arphrd = 1;
    return d;
}

}  // namespace

TEST(FrameLimit, LargestFrameIsMtuPlusHeaderAndTag) {
    EXPECT_EQ(largest_frame(eth(1500), 1500), 1518u);
    EXPECT_EQ(largest_frame(eth(9000), 9000), 9018u);
    device_info tun = eth(1500);
    tun.arphrd = 65534;  // ARPHRD_NONE: IP-only, no link header
    EXPECT_EQ(largest_frame(tun, 1400), 1400u);
}

TEST(FrameLimit, NothingToSayWhenEveryFrameFits) {
    EXPECT_EQ(check_frame_limit(eth(9000), 0, frame_limit_cause::kernel, xdp_mode::native), "") << "multi-buffer";
    EXPECT_EQ(check_frame_limit(eth(1500), 3840, frame_limit_cause::kernel, xdp_mode::native), "");
    EXPECT_EQ(check_frame_limit(eth(3822), 3840, frame_limit_cause::kernel, xdp_mode::native), "") << "exactly fits";
    EXPECT_EQ(mtu_change_line(eth(1500), 3822, 3840), "");
    EXPECT_EQ(mtu_change_line(eth(1500), 9000, 0), "");
}

TEST(FrameLimit, OneLineNamingTheMtuAndTheLargestCapturableFrame) {
    std::string line = check_frame_limit(eth(9000), 3840, frame_limit_cause::kernel, xdp_mode::automatic);
    EXPECT_EQ(line,
              "eth9: MTU 9000 allows frames of up to 9018 bytes, but xcap can capture at most 3840 bytes per frame "
              "here: this kernel's AF_XDP has no multi-buffer support (Linux 6.6 or later has it); longer frames are "
              "dropped and counted as too_large");
    EXPECT_EQ(line.find('\n'), std::string::npos);
    EXPECT_NE(check_frame_limit(eth(9000), 3840, frame_limit_cause::driver, xdp_mode::generic).find("zero-copy"),
              std::string::npos);
}

TEST(FrameLimit, NativeModeIsRefusedWithAnMtuThatFits) {
    try {
        check_frame_limit(eth(3823), 3840, frame_limit_cause::kernel, xdp_mode::native);
        FAIL() << "not refused";
    } catch (const failure& e) {
        EXPECT_EQ(e.kind(), failure_kind::unsupported);
        EXPECT_NE(std::string(e.what()).find("MTU 3823 allows frames of up to 3841 bytes"), std::string::npos)
            << e.what();
        EXPECT_NE(e.hint().find("mtu 3822"), std::string::npos) << e.hint();
    }
}

TEST(FrameLimit, MtuRaisedPastTheLimitGetsALine) {
    EXPECT_EQ(mtu_change_line(eth(1500), 9000, 3840),
              "eth9: MTU changed to 9000 while capturing: frames of up to 9018 bytes can arrive, but this capture "
              "takes at most 3840 bytes per frame; longer frames are dropped and counted as too_large");
}
