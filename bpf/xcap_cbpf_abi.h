/* The classic-BPF interpreter's side of the ABI (bpf/xcap_cbpf.bpf.h runs
 * it; filter/interpreter.h prepares the program): the instruction layout,
 * the program map's value and the interpreter's limits. Kept apart from
 * xcap_abi.h so that the recorders' record formats do not change with it.
 * Fixed-width types only; both sides compile it identically. */
#pragma once

#include <linux/types.h>

/* One classic instruction: the layout of the kernel's struct sock_filter and
 * libpcap's struct bpf_insn. */
struct xcap_cbpf_insn {
	__u16 code;
	__u8 jt;
	__u8 jf;
	__u32 k;
};

/* The most instructions a program may have (the kernel's BPF_MAXINSNS). A
 * power of two: the interpreter masks its program counter with it. */
#define XCAP_CBPF_MAX_INSNS 4096

/* The value of the program map's one entry (BPF_MAP_TYPE_ARRAY, key 0),
 * written by user space after the recorder is loaded and before it is
 * attached. Instructions past the program's length are never read. */
struct xcap_cbpf_prog {
	struct xcap_cbpf_insn insn[XCAP_CBPF_MAX_INSNS];
};

/* Backward jumps (libpcap's `protochain` loops): at most this many loop
 * heads per program, and this many taken jumps back to each per packet (the
 * 65th: no match), as filter/translate.h does. User space stores the loop's
 * number (0 .. XCAP_CBPF_MAX_LOOPS - 1) in the `jt` byte of each backward
 * `ja`, which classic BPF leaves unused. */
#define XCAP_CBPF_MAX_LOOPS 32
#define XCAP_CBPF_MAX_BACK_JUMPS 64

/* bpf_loop's own limit on iterations (BPF_MAX_LOOPS): the interpreter's step
 * budget never exceeds it. */
#define XCAP_CBPF_MAX_STEPS (1u << 23)
