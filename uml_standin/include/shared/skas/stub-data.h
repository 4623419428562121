/* SPDX-License-Identifier: MIT */
/*
 * The memory shared by a UML-style monitor and its stub: stubfuzz's own
 * description of the layout UML's seccomp mode uses. The member names are
 * UML's; the order is deliberately not upstream's, so a monitor that reads
 * offsets from a compiled probe (as it must for a real tree) keeps working
 * and one that hard-codes upstream's offsets fails here first.
 *
 * Self-contained: a layout probe includes it with the tree's compiler flags
 * alone.
 */
#ifndef STUB_DATA_H
#define STUB_DATA_H

#define UM_KERN_PAGE_SIZE 4096
#define STUB_DATA_PAGES 2
#define STUB_MAX_FDS 4

/* stub_data.futex: who runs. The monitor waits while it is IN_CHILD. */
#define FUTEX_IN_CHILD 0
#define FUTEX_IN_KERN 1

/* What stub_exe reads from fd 0 before it maps anything. */
struct stub_init_data {
	int seccomp;
	unsigned long stub_start;

	int stub_code_fd;
	unsigned long stub_code_offset;
	int stub_data_fd;
	unsigned long stub_data_offset;

	unsigned long signal_handler;
	unsigned long signal_restorer;
};

enum stub_syscall_type {
	STUB_SYSCALL_UNSET = 0,
	STUB_SYSCALL_MMAP,
	STUB_SYSCALL_MUNMAP,
};

/* One entry of the batch the handler runs before it returns to the guest. */
struct stub_syscall {
	struct {
		unsigned long addr;
		unsigned long length;
		unsigned long offset;
		int fd; /* index into the fds sent with the batch */
		int prot;
	} mem;

	enum stub_syscall_type syscall;
};

#define STUB_SYNC_FS_BASE 1
#define STUB_SYNC_GS_BASE 2

/* Registers rt_sigreturn does not restore; set by the handler on request. */
struct stub_data_arch {
	int sync;
	unsigned long fs_base, gs_base;
};

struct stub_data {
	unsigned int futex;
	int signal;
	unsigned short si_offset;   /* siginfo, from &sigstack[0] */
	unsigned short mctx_offset; /* uc_mcontext, from &sigstack[0] */
	short restart_wait;

	unsigned long offset;
	long err, child_err;

	int syscall_data_len;
	/* As many entries as fit with arch_data below the first page. */
	struct stub_syscall syscall_data[(UM_KERN_PAGE_SIZE - 128) /
					 sizeof(struct stub_syscall)]
		__attribute__((aligned(16)));

	struct stub_data_arch arch_data;

	/* The signal stack: the handler's frame, which the monitor edits. */
	unsigned char sigstack[UM_KERN_PAGE_SIZE]
		__attribute__((aligned(UM_KERN_PAGE_SIZE)));
};

#endif
