// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The trace tests' program without its xdpcap hook, for a place behind
 * libxdp's dispatcher: a tail call may change packet data, and kernels with
 * the changes_pkt_data check for extension programs (Debian's 6.12 has it)
 * refuse such an extension in place of the dispatcher's stub functions,
 * which libxdp 1.3 builds without it ("Extension program changes packet
 * data, while original does not"). */
#define XDP_ACTIONS_NO_HOOK 1
#include "xdp_actions.bpf.c"
