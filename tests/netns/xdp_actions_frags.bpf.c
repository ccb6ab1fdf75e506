// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The trace tests' program built as xdp.frags, for jumbo frames: veth (6.1
 * and later) hands a program loaded with frags a frame longer than a page in
 * several buffers, and refuses one without frags at MTU 9000 in native mode.
 * A separate object: a PROG_ARRAY (the hook) takes programs of one frags
 * setting only. */
#define XDP_ACTIONS_FRAGS 1
#include "xdp_actions.bpf.c"
