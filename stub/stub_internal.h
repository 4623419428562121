/* SPDX-License-Identifier: MIT */
/* Declarations shared by the stub's init code and its stub page. */
#ifndef STUBFUZZ_STUB_INTERNAL_H
#define STUBFUZZ_STUB_INTERNAL_H

#include "stub_abi.h"

/* Code that runs from the copied stub page: section "stub_page". */
#define STUB_PAGE __attribute__((section("stub_page"), used, noinline))
#define STUB_HIDDEN __attribute__((visibility("hidden")))

/* Symbols of the stub page, at their link-time address in the binary. */
extern char stub_page_base[] STUB_HIDDEN;
extern char __start_stub_page[] STUB_HIDDEN;
extern char __stop_stub_page[] STUB_HIDDEN;
extern char stub_gate_x86_64[] STUB_HIDDEN;
extern char stub_gate_i386[] STUB_HIDDEN;
extern char stub_restorer[] STUB_HIDDEN;
long stub_call(uint64_t target, uint32_t abi, uint32_t nr,
	       const uint64_t args[6]) STUB_HIDDEN;

/* Entry points of the stub page, called at their copied address. */
struct k_siginfo;
void stub_serve(struct stub_data *d) STUB_HIDDEN __attribute__((noreturn));
void stub_serve2(struct stub_data *d) STUB_HIDDEN __attribute__((noreturn));
void stub_sigsys(int sig, struct k_siginfo *si, void *uc) STUB_HIDDEN;

/* Outside the stub page: guest code. */
extern char outside_gate_x86_64[];
extern char outside_gate_i386[];
extern char outside_spin[];

/* The kernel's siginfo for SIGSYS (x86-64). */
struct k_siginfo {
	int si_signo;
	int si_errno; /* SECCOMP_RET_DATA */
	int si_code;
	int pad;
	uint64_t call_addr;
	int syscall;
	unsigned int arch;
	char rest[128 - 32];
};

#define STUB_FUTEX_WAITERS 0x80000000u

#endif
