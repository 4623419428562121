/* SPDX-License-Identifier: MIT */
/*
 * What libc would otherwise give the stub: x86-64 syscalls as inline
 * "syscall" instructions (so in the stub page they stay inside the page) and
 * the few kernel structs the stub passes by pointer.
 */
#ifndef STUB_SYSCALL_H
#define STUB_SYSCALL_H

#include <asm/unistd.h>

#define STUB_INLINE static inline __attribute__((always_inline))

STUB_INLINE long stub_syscall6(long nr, long a, long b, long c, long d, long e,
			       long f)
{
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	register long r9 __asm__("r9") = f;
	long ret;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8),
			   "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}

STUB_INLINE long stub_syscall0(long nr)
{
	return stub_syscall6(nr, 0, 0, 0, 0, 0, 0);
}

STUB_INLINE long stub_syscall1(long nr, long a)
{
	return stub_syscall6(nr, a, 0, 0, 0, 0, 0);
}

STUB_INLINE long stub_syscall2(long nr, long a, long b)
{
	return stub_syscall6(nr, a, b, 0, 0, 0, 0);
}

STUB_INLINE long stub_syscall3(long nr, long a, long b, long c)
{
	return stub_syscall6(nr, a, b, c, 0, 0, 0);
}

STUB_INLINE long stub_syscall4(long nr, long a, long b, long c, long d)
{
	return stub_syscall6(nr, a, b, c, d, 0, 0);
}

/* rt_sigaction's struct as the kernel reads it (not libc's). */
struct stub_sigaction {
	unsigned long handler;
	unsigned long flags;
	unsigned long restorer;
	unsigned long long mask;
};

struct stub_stack {
	unsigned long ss_sp;
	int ss_flags;
	unsigned long ss_size;
};

/* The head of the kernel's x86-64 ucontext: the registers (struct
 * sigcontext) follow uc_stack. */
struct stub_ucontext {
	unsigned long uc_flags;
	struct stub_ucontext *uc_link;
	struct stub_stack uc_stack;
	unsigned long uc_mcontext[];
};

struct stub_iovec {
	void *base;
	unsigned long len;
};

struct stub_msghdr {
	void *name;
	int namelen;
	struct stub_iovec *iov;
	unsigned long iovlen;
	void *control;
	unsigned long controllen;
	unsigned int flags;
};

struct stub_cmsghdr {
	unsigned long len;
	int level;
	int type;
	int data[]; /* 16 bytes in, so CMSG_DATA's alignment needs no padding */
};

#endif
