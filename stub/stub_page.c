/* SPDX-License-Identifier: MIT */
/*
 * The stub page: the command loop and the SIGSYS handler. This file is
 * compiled position-independent and copied to stub_start; it must not call
 * or reference anything outside section "stub_page" (no libc, no .rodata,
 * no jump tables).
 */
#include <linux/futex.h>
#include <asm/unistd.h>

#include "stub_internal.h"

/* The page's own address at run time, wherever it was copied. */
static inline __attribute__((always_inline)) char *page_base(void)
{
	char *p;
	__asm__("lea stub_page_base(%%rip), %0" : "=r"(p));
	return p;
}

static inline __attribute__((always_inline)) struct stub_data *page_data(void)
{
	return (struct stub_data *)(page_base() + STUB_PAGE_SIZE);
}

static inline __attribute__((always_inline)) long
page_futex(uint32_t *word, int op, uint32_t val)
{
	uint64_t args[6] = {(uint64_t)word, (uint64_t)op, val, 0, 0, 0};
	char *gate;
	__asm__("lea stub_gate_x86_64(%%rip), %0" : "=r"(gate));
	return stub_call((uint64_t)gate, STUB_ABI_X86_64, __NR_futex, args);
}

/* A futex wait of at most `us` microseconds (below a second). */
static inline __attribute__((always_inline)) void
page_futex_sleep(uint32_t *word, uint32_t val, uint32_t us)
{
	volatile uint64_t ts[2];
	char *gate;

	ts[0] = 0;
	ts[1] = (uint64_t)us * 1000;
	uint64_t args[6] = {(uint64_t)word, FUTEX_WAIT, val, (uint64_t)ts, 0, 0};
	__asm__("lea stub_gate_x86_64(%%rip), %0" : "=r"(gate));
	stub_call((uint64_t)gate, STUB_ABI_X86_64, __NR_futex, args);
}

static inline __attribute__((always_inline)) uint64_t
record_target(struct stub_data *d, const struct stub_record *r)
{
	char *base = page_base();
	char *gate;

	if (r->abi > STUB_ABI_SPIN)
		return 0;
	switch (r->origin) {
	case STUB_ORIGIN_STUB:
		if (r->abi == STUB_ABI_SPIN)
			__asm__("lea stub_spin(%%rip), %0" : "=r"(gate));
		else if (r->abi == STUB_ABI_X86_64)
			__asm__("lea stub_gate_x86_64(%%rip), %0" : "=r"(gate));
		else
			__asm__("lea stub_gate_i386(%%rip), %0" : "=r"(gate));
		return (uint64_t)gate;
	case STUB_ORIGIN_OUTSIDE:
		if (r->abi == STUB_ABI_SPIN)
			return d->outside_spin;
		return d->outside_gate[r->abi];
	case STUB_ORIGIN_ADDRESS:
		break;
	default:
		return 0;
	}

	/* Write "syscall; ret" (or "int $0x80; ret") at the chosen address.
	 * An instruction ending exactly at the stub page returns through the
	 * ret at its offset 0. */
	uint8_t *at = (uint8_t *)r->addr;
	int fits = r->addr + 2 == (uint64_t)base;
	for (uint32_t i = 0; i < d->narenas && i < STUB_MAX_ARENAS; i++) {
		const struct stub_arena *a = &d->arenas[i];
		if (r->addr >= a->addr && r->addr + 3 <= a->addr + a->len &&
		    r->addr + 3 > r->addr)
			fits = 2;
	}
	if (!fits)
		return 0;
	if (r->abi == STUB_ABI_SPIN) { /* jmp . */
		at[0] = 0xeb;
		at[1] = 0xfe;
		return r->addr;
	}
	at[0] = r->abi == STUB_ABI_X86_64 ? 0x0f : 0xcd;
	at[1] = r->abi == STUB_ABI_X86_64 ? 0x05 : 0x80;
	if (fits == 2)
		at[2] = 0xc3;
	return r->addr;
}

static inline __attribute__((always_inline)) void
run_batch(struct stub_data *d, uint32_t thread)
{
	uint32_t n = d->nrecords;
	uint32_t *current = thread ? &d->current2 : &d->current;

	if (n > STUB_MAX_RECORDS)
		n = STUB_MAX_RECORDS;
	if (!thread && d->refill_arenas) {
		for (uint32_t a = 0; a < d->narenas && a < STUB_MAX_ARENAS; a++) {
			if (!(d->refill_arenas & (1u << a)))
				continue;
			/* Volatile: no memset for a freestanding compiler to call. */
			volatile uint64_t *w = (volatile uint64_t *)d->arenas[a].addr;
			for (uint64_t j = 0; j < d->arenas[a].len / 8; j++)
				w[j] = 0xccccccccccccccccull;
		}
		__atomic_store_n(&d->refill_arenas, 0, __ATOMIC_RELEASE);
	}
	for (uint32_t i = 0; i < n; i++) {
		const struct stub_record *r = &d->records[i];
		struct stub_result *res = &d->results[i];
		uint64_t target, args[6];

		if (r->thread != thread)
			continue;
		__atomic_store_n(current, i, __ATOMIC_RELAXED);
		res->trapped = 0;
		res->trap_count = 0;
		target = record_target(d, r);
		if (!target) {
			res->status = STUB_RESULT_BAD_RECORD;
			continue;
		}
		/* No loop: a freestanding compiler may turn one into memcpy. */
		args[0] = r->args[0];
		args[1] = r->args[1];
		args[2] = r->args[2];
		args[3] = r->args[3];
		args[4] = r->args[4];
		args[5] = r->args[5];
		if (r->pending) {
			uint64_t id = __atomic_load_n(&d->pending_id,
						      __ATOMIC_ACQUIRE);
			res->pending_id = id;
			for (uint32_t a = 0; a < 6; a++)
				if (r->pending & (1u << a))
					((volatile uint64_t *)args)[a] = id;
			if (r->pending & STUB_PENDING_RESP)
				*(volatile uint64_t *)(d->scratch +
						       STUB_RESP_OFFSET) = id;
		}
		res->status = STUB_RESULT_RUNNING;
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
		if (r->abi == STUB_ABI_SPIN) {
			uint32_t us = __atomic_load_n(&d->spin_handoff_us,
						      __ATOMIC_ACQUIRE);
			if (us && us < 1000000) {
				page_futex(thread ? &d->sync2 : &d->sync,
					   FUTEX_WAKE, 0x7fffffff);
				page_futex_sleep(&d->spin_handoff_us, us, us);
			}
		}
		res->ret = stub_call(target, r->abi, r->nr, args);
		res->status = STUB_RESULT_DONE;
	}
}

STUB_PAGE void stub_serve(struct stub_data *d)
{
	d->state = STUB_STATE_READY;
	for (;;) {
		__atomic_store_n(&d->sync, 0, __ATOMIC_RELEASE);
		page_futex(&d->sync, FUTEX_WAKE, 0x7fffffff);
		while (__atomic_load_n(&d->sync, __ATOMIC_ACQUIRE) == 0)
			page_futex(&d->sync, FUTEX_WAIT, 0);
		run_batch(d, 0);
		d->batches++;
	}
}

/* The second thread's loop: the same protocol on sync2, which starts at 0
 * (idle), so nobody waits for the thread to arrive here. */
STUB_PAGE void stub_serve2(struct stub_data *d)
{
	for (;;) {
		while (__atomic_load_n(&d->sync2, __ATOMIC_ACQUIRE) == 0)
			page_futex(&d->sync2, FUTEX_WAIT, 0);
		run_batch(d, 1);
		__atomic_store_n(&d->sync2, 0, __ATOMIC_RELEASE);
		page_futex(&d->sync2, FUTEX_WAKE, 0x7fffffff);
	}
}

STUB_PAGE void stub_sigsys(int sig, struct k_siginfo *si, void *uc)
{
	struct stub_data *d = page_data();
	/* The handler runs on the trapping thread's stack. */
	uint64_t sp = (uint64_t)__builtin_frame_address(0);
	int second = sp >= d->thread2_stack_lo && sp < d->thread2_stack_hi;
	uint32_t current = second ? d->current2 : d->current;
	struct stub_result *res = &d->results[current % STUB_MAX_RECORDS];

	(void)sig;
	(void)uc;
	/* Only the filter's SIGSYS is a trap; kill(self, SIGSYS) is not. */
	if (si->si_code != 1 /* SYS_SECCOMP */)
		return;
	if (!res->trapped) {
		res->trapped = 1;
		res->trap_call_addr = si->call_addr;
		res->trap_syscall = si->syscall;
		res->trap_arch = si->arch;
		res->trap_errno = si->si_errno;
	}
	res->trap_count++;
}
