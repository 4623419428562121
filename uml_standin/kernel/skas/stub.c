/* SPDX-License-Identifier: MIT */
/*
 * The stub page: code the monitor copies into a memfd and stub_exe maps at
 * stub_start. The seccomp filter allows syscalls only from this page, so
 * everything here is inlined into the three entry points, position
 * independent, and touches nothing outside the page but the data pages
 * that follow it.
 */
#include <stddef.h>

#include <asm/errno.h>
#include <asm/prctl.h>
#include <linux/futex.h>
#include <linux/mman.h>

#include <stub-data.h>
#include <stub-syscall.h>

#define STUB_CODE __attribute__((section(".syscall_stub"), used))

#define SIGSYS_NR 31
#define SOL_SOCKET_LEVEL 1
#define SCM_RIGHTS_TYPE 1

_Static_assert(sizeof(struct stub_data) == STUB_DATA_PAGES * UM_KERN_PAGE_SIZE,
	       "stub_data fills the data pages");
_Static_assert(offsetof(struct stub_data, sigstack) == UM_KERN_PAGE_SIZE,
	       "the signal stack is the last data page");

/* The data pages follow the page this code runs in, wherever it is mapped. */
STUB_INLINE struct stub_data *get_stub_data(void)
{
	unsigned long here;

	__asm__("lea 0(%%rip), %0\n\t"
		"and %1, %0\n\t"
		"add %2, %0"
		: "=r"(here)
		: "i"(-UM_KERN_PAGE_SIZE), "i"(UM_KERN_PAGE_SIZE));
	return (struct stub_data *)here;
}

/* Runs d->syscall_data; fd_map translates mem.fd, or NULL for fds as given.
 * On the first failure the batch stops with err and syscall_data_len
 * telling the monitor which entry failed and why. */
STUB_INLINE void run_batch(struct stub_data *d, const int *fd_map, int num_fds)
{
	for (int i = 0; i < d->syscall_data_len; i++) {
		struct stub_syscall *sc = &d->syscall_data[i];
		long ret;
		int fd;

		switch (sc->syscall) {
		case STUB_SYSCALL_MMAP:
			fd = sc->mem.fd;
			if (fd_map) {
				/* A bad index must not read past the fds. */
				if (fd < 0 || fd >= num_fds) {
					ret = -EBADF;
					break;
				}
				fd = fd_map[fd];
			}
			ret = stub_syscall6(__NR_mmap, sc->mem.addr,
					    sc->mem.length, sc->mem.prot,
					    MAP_SHARED | MAP_FIXED, fd,
					    sc->mem.offset);
			ret = ret == (long)sc->mem.addr ? 0 : ret;
			break;
		case STUB_SYSCALL_MUNMAP:
			ret = stub_syscall2(__NR_munmap, sc->mem.addr,
					    sc->mem.length);
			break;
		default:
			ret = -EOPNOTSUPP;
			break;
		}
		if (ret != 0) {
			d->err = ret;
			d->syscall_data_len = i;
			return;
		}
	}
	d->err = 0;
	d->syscall_data_len = 0;
}

/* Tells the monitor the stub stopped and sleeps until it says resume. */
STUB_INLINE void hand_over(struct stub_data *d)
{
	long res;

	d->futex = FUTEX_IN_KERN;
	do {
		res = stub_syscall3(__NR_futex, (long)&d->futex, FUTEX_WAKE, 1);
	} while (res == -EINTR);

	do {
		res = stub_syscall4(__NR_futex, (long)&d->futex, FUTEX_WAIT,
				    FUTEX_IN_KERN, 0);
	} while (res == -EINTR ||
		 *(volatile unsigned int *)&d->futex == FUTEX_IN_KERN);
	if (res < 0 && res != -EAGAIN)
		stub_syscall1(__NR_exit_group, 1);
}

/* Takes the fds sent with a batch, runs it and closes them again. */
STUB_INLINE void receive_and_run_batch(struct stub_data *d)
{
	unsigned long control[(sizeof(struct stub_cmsghdr) +
			       STUB_MAX_FDS * sizeof(int) + 7) / 8];
	struct stub_cmsghdr *cmsg = (struct stub_cmsghdr *)control;
	char byte;
	struct stub_iovec iov = { .base = &byte, .len = 1 };
	struct stub_msghdr msg = {
		.iov = &iov,
		.iovlen = 1,
		.control = control,
		.controllen = sizeof(control),
	};
	int num_fds = 0;
	long res;

	do {
		res = stub_syscall3(__NR_recvmsg, 0, (long)&msg, 0);
	} while (res == -EINTR);
	if (res < 0 && res != -EAGAIN)
		stub_syscall1(__NR_exit_group, 1);

	if (res >= 0 && msg.controllen >= sizeof(*cmsg) &&
	    cmsg->level == SOL_SOCKET_LEVEL && cmsg->type == SCM_RIGHTS_TYPE)
		num_fds = (cmsg->len - sizeof(*cmsg)) / sizeof(int);

	run_batch(d, cmsg->data, num_fds);

	for (int i = 0; i < num_fds; i++)
		stub_syscall1(__NR_close, cmsg->data[i]);
}

/* The handler of every signal the stub takes, on the sigaltstack in the
 * data pages. It reports the signal, lets the monitor edit the frame and
 * run batches, and returns through the restorer into whatever the frame
 * says then. */
STUB_CODE void stub_signal_interrupt(int sig, void *info, void *ucontext)
{
	struct stub_data *d = get_stub_data();
	struct stub_ucontext *uc = ucontext;

	d->signal = sig;
	d->si_offset = (char *)info - (char *)&d->sigstack[0];
	d->mctx_offset = (char *)&uc->uc_mcontext - (char *)&d->sigstack[0];

	for (;;) {
		hand_over(d);

		if (d->syscall_data_len)
			receive_and_run_batch(d);
		else
			d->err = 0;

		/* A failed batch or a monitor that asks for it stops again at
		 * once, reported as SIGSYS. */
		if (d->err == 0 && !d->restart_wait)
			break;
		d->signal = SIGSYS_NR;
		d->restart_wait = 0;
	}

	/* fs and gs base are not part of the frame rt_sigreturn restores. */
	if (d->arch_data.sync & STUB_SYNC_FS_BASE)
		stub_syscall2(__NR_arch_prctl, ARCH_SET_FS, d->arch_data.fs_base);
	if (d->arch_data.sync & STUB_SYNC_GS_BASE)
		stub_syscall2(__NR_arch_prctl, ARCH_SET_GS, d->arch_data.gs_base);
	d->arch_data.sync = 0;
}

/* sa_restorer: rt_sigreturn from inside the page (the filter's reason). */
STUB_CODE __attribute__((naked)) void stub_signal_restorer(void)
{
	__asm__("mov $15, %eax\n\t"
		"syscall\n\t"
		"ud2");
}

/* UML's ptrace mode enters here with the batch's fds already in place and
 * reads the result at the int3. Kept so the page has upstream's shape. */
STUB_CODE void stub_syscall_handler(void)
{
	struct stub_data *d = get_stub_data();

	run_batch(d, NULL, 0);
	for (;;)
		__asm__ volatile("int3");
}
