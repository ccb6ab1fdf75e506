/* A classic BPF interpreter, for the programs that cannot run the filter
 * that filter/translate.h emits: the trace recorders (fentry/fexit programs
 * see the packet only through bpf_probe_read_kernel; the hook programs are
 * XDP programs too, but each must return its slot's action). Included by
 * bpf/xcap_trace.bpf.c and bpf/xcap_hook.bpf.c, and by the tests' XDP
 * program (tests/common/cbpf_run.bpf.c, for the unit tests and bench/).
 *
 * The includer defines XCAP_LOAD(src, dst, n) first, as for
 * xcap_record.bpf.h: copy n (1 .. XCAP_TRACE_MAX_CAP) packet bytes from `src`
 * to `dst`, 0 on success.
 *
 * What it computes is libpcap's own interpreter's answer (pcap_offline_filter)
 * on a record of the copied bytes (caplen) and the packet's whole length
 * (len): A, X and M[] start at 0; loads are big-endian and a load that does
 * not lie wholly in the copied bytes ends the program with 0 (no match);
 * division and modulo by zero end it with 0; shifts by 32 or more give 0;
 * jumping out of the program or running off its end give 0. So `tcpdump -r`
 * of the written file with the same expression selects the same packets.
 * The Linux ancillary loads have the meanings filter/translate.h gives them
 * in XDP (protocol and pkttype from the frame, ifindex, queue, cpu, random,
 * alu_xor_x); user space refuses every other one before loading
 * (filter/interpreter.h), and rewrites SKF_LL_OFF-relative offsets to plain
 * ones.
 *
 * How: user space puts the program into the array map xcap_cbpf_prog and
 * its length and step budget into .rodata (xcap_cbpf_len, xcap_cbpf_steps).
 * xcap_cbpf_run() copies the packet's first bytes into a per-CPU scratch
 * buffer with XCAP_LOAD, then runs bpf_loop (Linux 5.17+) with one classic
 * instruction per iteration; the interpreter's registers live in the same
 * per-CPU value, so that the verifier sees the same state on every iteration
 * (a callback is verified once on 6.1, and until its state repeats on newer
 * kernels). The budget: without backward jumps a program runs each
 * instruction at most once; libpcap's `protochain` loops jump back at most
 * XCAP_CBPF_MAX_BACK_JUMPS times per loop head (the next one is no match),
 * so the budget is len * (1 + 64 * loops) steps, at most bpf_loop's 2^23; a
 * program still running when it is spent returns 0. With xcap_cbpf_len 0 (no
 * filter) the verifier drops all of it: nothing is copied and nothing runs.
 *
 * Per CPU and not reentrant: a recorder does not nest on a CPU (XDP runs to
 * its end; a tracing program does not recurse into itself), and each loaded
 * object has its own scratch map. */
#pragma once

#include <linux/bpf.h>
#include <linux/filter.h>
#include <bpf/bpf_helpers.h>
#include "xcap_abi.h"
#include "xcap_cbpf_abi.h"

/* Set before load. 0 instructions: no filter (every packet matches). */
const volatile __u32 xcap_cbpf_len = 0;
const volatile __u32 xcap_cbpf_steps = 0;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xcap_cbpf_prog);
} xcap_cbpf_prog SEC(".maps");

/* The interpreter's state and the packet's copy. pkt has 4 bytes more than
 * a copy can fill, so that every load reads a whole word wherever it starts
 * below XCAP_TRACE_MAX_CAP (the check that matters is against `cap`). */
struct xcap_cbpf_state {
	__u32 a;
	__u32 x;
	__u32 pc;
	__u32 result;
	__u32 cap;      /* bytes copied into pkt */
	__u32 wire_len; /* the packet's whole length (`len`) */
	__u32 ifindex;
	__u32 queue;
	__u32 mem[16];
	__u8 back[XCAP_CBPF_MAX_LOOPS];
	__u8 pkt[XCAP_TRACE_MAX_CAP + 4];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xcap_cbpf_state);
} xcap_cbpf_scratch SEC(".maps");

/* What each bpf_loop iteration gets: pointers checked once per packet. */
struct xcap_cbpf_loop {
	struct xcap_cbpf_state *s;
	struct xcap_cbpf_prog *prog;
};

/* *v = the bytes of a `size`-byte load at packet offset `off`, big-endian;
 * nonzero when they are not all in the copy. */
static __always_inline int xcap_cbpf_load(struct xcap_cbpf_state *s, __u64 off, __u32 code, __u32 *v)
{
	const __u32 size = BPF_SIZE(code) == BPF_W ? 4 : BPF_SIZE(code) == BPF_H ? 2 : 1;
	if (off + size > s->cap || off >= XCAP_TRACE_MAX_CAP)
		return -1;
	const __u8 *p = &s->pkt[off];
	__u32 w = (__u32)p[0] << 24 | (__u32)p[1] << 16 | (__u32)p[2] << 8 | p[3];
	*v = w >> (8 * (4 - size));
	return 0;
}

/* A = Linux ancillary datum n (SKF_AD_*), with its XDP meaning; nonzero:
 * no match (a datum read from a frame too short for it, or one user space
 * should have refused). */
static __always_inline int xcap_cbpf_ancillary(struct xcap_cbpf_state *s, __u32 n, __u32 *a, __u32 x)
{
	__u32 v;
	switch (n) {
	case SKF_AD_PROTOCOL:
		/* eth_type_trans(): an EtherType as it stands; below 0x600 a length
		 * (802.3): raw 802.3 when the payload starts 0xffff (IPX), else 802.2. */
		if (xcap_cbpf_load(s, 12, BPF_H, &v))
			return -1;
		if (v < 0x600) {
			__u32 head;
			v = 0x0004; /* ETH_P_802_2 */
			if (!xcap_cbpf_load(s, 14, BPF_H, &head) && head == 0xffff)
				v = 0x0001; /* ETH_P_802_3 */
		}
		*a = v;
		return 0;
	case SKF_AD_PKTTYPE: {
		/* From the destination MAC: PACKET_HOST 0, PACKET_BROADCAST 1,
		 * PACKET_MULTICAST 2 (XDP sees received frames only). */
		__u32 hi, lo;
		if (xcap_cbpf_load(s, 0, BPF_W, &hi) || xcap_cbpf_load(s, 4, BPF_H, &lo))
			return -1;
		*a = !(hi & 0x01000000) ? 0 : hi == 0xffffffff && lo == 0xffff ? 1 : 2;
		return 0;
	}
	case SKF_AD_IFINDEX:
		*a = s->ifindex;
		return 0;
	case SKF_AD_QUEUE:
		*a = s->queue;
		return 0;
	case SKF_AD_CPU:
		*a = bpf_get_smp_processor_id();
		return 0;
	case SKF_AD_RANDOM:
		*a = bpf_get_prandom_u32();
		return 0;
	case SKF_AD_ALU_XOR_X:
		*a ^= x;
		return 0;
	default:
		return -1;
	}
}

/* One classic instruction; 1 ends the loop (s->result is the answer). */
static long xcap_cbpf_step(__u32 index, void *data)
{
	struct xcap_cbpf_loop *l = data;
	struct xcap_cbpf_state *s = l->s;
	__u32 pc = s->pc;
	if (pc >= xcap_cbpf_len)
		goto no_match; /* ran off the end, or jumped out */
	const struct xcap_cbpf_insn *in = &l->prog->insn[pc & (XCAP_CBPF_MAX_INSNS - 1)];
	const __u32 code = in->code;
	const __u32 k = in->k;
	__u32 a = s->a, x = s->x, v;
	pc++;
	switch (BPF_CLASS(code)) {
	case BPF_LD:
		switch (BPF_MODE(code)) {
		case BPF_IMM:
			a = k;
			break;
		case BPF_MEM:
			a = s->mem[k & 15];
			break;
		case BPF_LEN:
			a = s->wire_len;
			break;
		case BPF_ABS:
			if (k >= (__u32)SKF_AD_OFF) {
				if (xcap_cbpf_ancillary(s, k - (__u32)SKF_AD_OFF, &a, x))
					goto no_match;
			} else if (xcap_cbpf_load(s, k, code, &a)) {
				goto no_match;
			}
			break;
		case BPF_IND:
			/* X + k in 64 bits: no wrap-around, as in libpcap. */
			if (xcap_cbpf_load(s, (__u64)x + k, code, &a))
				goto no_match;
			break;
		default:
			goto no_match;
		}
		break;
	case BPF_LDX:
		switch (BPF_MODE(code)) {
		case BPF_IMM:
			x = k;
			break;
		case BPF_MEM:
			x = s->mem[k & 15];
			break;
		case BPF_LEN:
			x = s->wire_len;
			break;
		case BPF_MSH:
			if (xcap_cbpf_load(s, k, BPF_B, &v))
				goto no_match;
			x = (v & 0xf) << 2;
			break;
		default:
			goto no_match;
		}
		break;
	case BPF_ST:
		s->mem[k & 15] = a;
		break;
	case BPF_STX:
		s->mem[k & 15] = x;
		break;
	case BPF_ALU:
		v = BPF_SRC(code) == BPF_X ? x : k;
		switch (BPF_OP(code)) {
		case BPF_ADD:
			a += v;
			break;
		case BPF_SUB:
			a -= v;
			break;
		case BPF_MUL:
			a *= v;
			break;
		case BPF_DIV:
			if (v == 0)
				goto no_match;
			a /= v;
			break;
		case BPF_MOD:
			if (v == 0)
				goto no_match;
			a %= v;
			break;
		case BPF_AND:
			a &= v;
			break;
		case BPF_OR:
			a |= v;
			break;
		case BPF_XOR:
			a ^= v;
			break;
		case BPF_LSH:
			a = v < 32 ? a << v : 0;
			break;
		case BPF_RSH:
			a = v < 32 ? a >> v : 0;
			break;
		case BPF_NEG:
			a = -a;
			break;
		default:
			goto no_match;
		}
		break;
	case BPF_JMP:
		if (BPF_OP(code) == BPF_JA) {
			if ((__s32)k < 0) {
				/* A loop: its number is in jt (filter/interpreter.h). */
				__u8 *taken = &s->back[in->jt & (XCAP_CBPF_MAX_LOOPS - 1)];
				if (*taken >= XCAP_CBPF_MAX_BACK_JUMPS)
					goto no_match;
				*taken += 1;
			}
			pc += k;
			break;
		}
		v = BPF_SRC(code) == BPF_X ? x : k;
		switch (BPF_OP(code)) {
		case BPF_JEQ:
			pc += a == v ? in->jt : in->jf;
			break;
		case BPF_JGT:
			pc += a > v ? in->jt : in->jf;
			break;
		case BPF_JGE:
			pc += a >= v ? in->jt : in->jf;
			break;
		case BPF_JSET:
			pc += a & v ? in->jt : in->jf;
			break;
		default:
			goto no_match;
		}
		break;
	case BPF_RET:
		s->result = BPF_RVAL(code) == BPF_A ? a : k;
		return 1;
	case BPF_MISC:
		if (BPF_MISCOP(code) == BPF_TAX)
			x = a;
		else
			a = x;
		break;
	default:
		goto no_match;
	}
	s->a = a;
	s->x = x;
	s->pc = pc;
	return 0;
no_match:
	s->result = 0;
	return 1;
}

/* The filter's result for the packet at `src`: 0 = no match, else the k it
 * returned (libpcap's programs return the snaplen). `copy` bytes of it are
 * examined (the record's caplen: the snaplen or less), `wire_len` is `len`.
 * Without a filter, ~0 without looking at the packet. */
static __always_inline __u32 xcap_cbpf_run(void *src, __u32 copy, __u32 wire_len, __u32 ifindex, __u32 queue)
{
	if (xcap_cbpf_len == 0)
		return ~0u;
	__u32 zero = 0;
	struct xcap_cbpf_state *s = bpf_map_lookup_elem(&xcap_cbpf_scratch, &zero);
	struct xcap_cbpf_prog *prog = bpf_map_lookup_elem(&xcap_cbpf_prog, &zero);
	if (!s || !prog)
		return 0;
	if (copy > XCAP_TRACE_MAX_CAP)
		copy = XCAP_TRACE_MAX_CAP;
	/* As in xcap_record.bpf.h: 1 <= n <= the buffer, in a form 6.1's
	 * verifier follows. */
	__u64 n = copy;
	asm volatile("" : "+r"(n));
	if (n > 0 && XCAP_LOAD(src, s->pkt, ((n - 1) & (XCAP_TRACE_MAX_CAP - 1)) + 1) != 0)
		n = 0;
	s->cap = (__u32)n;
	s->wire_len = wire_len;
	s->ifindex = ifindex;
	s->queue = queue;
	s->a = 0;
	s->x = 0;
	s->pc = 0;
	s->result = 0;
	__builtin_memset(s->mem, 0, sizeof(s->mem));
	__builtin_memset(s->back, 0, sizeof(s->back));
	struct xcap_cbpf_loop l = {.s = s, .prog = prog};
	bpf_loop(xcap_cbpf_steps, xcap_cbpf_step, &l, 0);
	return s->result;
}
