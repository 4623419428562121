/* SPDX-License-Identifier: MIT */
/*
 * The stub's init, outside the stub page: read the init data from fd 0, map
 * the data pages, the code page and the guest arenas, drop every fd but 0,
 * install the filter, and jump into the stub page's command loop. Faithful to
 * UML's arch/um/kernel/skas/stub_exe.c with the seed patch applied.
 */
#include <asm/unistd.h>
#include <linux/fcntl.h>
#include <linux/filter.h>
#include <linux/futex.h>
#include <linux/mman.h>
#include <asm/resource.h>
#include <linux/prctl.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <linux/signal.h>

#include "stub_internal.h"

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

static long sys6(long nr, long a, long b, long c, long d, long e, long f)
{
	long ret;
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	register long r9 __asm__("r9") = f;
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8),
			   "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}

#define sys1(n, a) sys6(n, (long)(a), 0, 0, 0, 0, 0)
#define sys2(n, a, b) sys6(n, (long)(a), (long)(b), 0, 0, 0, 0)
#define sys3(n, a, b, c) sys6(n, (long)(a), (long)(b), (long)(c), 0, 0, 0)
#define sys4(n, a, b, c, d) \
	sys6(n, (long)(a), (long)(b), (long)(c), (long)(d), 0, 0)

static __attribute__((noreturn)) void die(struct stub_data *d, int error)
{
	if (d) {
		d->init_error = error;
		d->state = STUB_STATE_INIT_FAILED;
	}
	for (;;)
		sys1(__NR_exit_group, error);
}

static int read_all(void *buf, unsigned long len)
{
	char *p = buf;

	while (len) {
		long n = sys3(__NR_read, STUB_SOCKET_FD, p, len);
		if (n <= 0)
			return -1;
		p += n;
		len -= (unsigned long)n;
	}
	return 0;
}

static void copy_bytes(void *dst, const void *src, unsigned long n)
{
	volatile char *d = dst;
	const char *s = src;

	while (n--)
		*d++ = *s++;
}

static void *map_fixed(uint64_t addr, uint64_t len, int prot, int flags, int fd)
{
	long r = sys6(__NR_mmap, (long)addr, (long)len, prot,
		      flags | MAP_FIXED_NOREPLACE, fd, 0);
	return r == (long)addr ? (void *)addr : 0;
}

/* The kernel's struct sigaction with SA_RESTORER, for rt_sigaction. */
struct k_sigaction {
	void *handler;
	unsigned long flags;
	void *restorer;
	uint64_t mask;
};

/* Where a stub-page symbol lies once the page is copied to stub_start. */
static uint64_t in_page(uint64_t stub_start, const void *sym)
{
	return stub_start + (uint64_t)((const char *)sym - __start_stub_page);
}

/*
 * clone() a thread on `stack_top` that calls serve(d). The child returns
 * from the syscall on its new stack with every other register as the parent
 * left it, so the asm must not touch the stack before it calls.
 */
static long spawn_thread(char *stack_top, void (*serve)(struct stub_data *),
			 struct stub_data *d, uint32_t *tid)
{
	const long flags = STUB_THREAD_CLONE_FLAGS;
	_Static_assert(STUB_THREAD_CLONE_FLAGS ==
			       (CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND |
				CLONE_THREAD | CLONE_SYSVSEM | CLONE_CHILD_SETTID |
				CLONE_CHILD_CLEARTID),
		       "the safety net allows the thread's clone by its flags");
	long ret;
	register long r10 __asm__("r10") = (long)tid; /* child_tid */
	register long r8 __asm__("r8") = 0;           /* tls */

	__asm__ volatile("syscall\n\t"
			 "test %%rax, %%rax\n\t"
			 "jnz 1f\n\t"
			 "mov %[d], %%rdi\n\t"
			 "call *%[serve]\n\t"
			 "ud2\n"
			 "1:"
			 : "=a"(ret)
			 : "a"(__NR_clone), "D"(flags), "S"(stack_top), "d"(0),
			   "r"(r10), "r"(r8), [serve] "r"(serve), [d] "r"(d)
			 : "rcx", "r11", "memory");
	return ret;
}

/* 32 KiB: BPF_MAXINSNS instructions. In .bss, so no stack probing. */
static struct sock_filter filter_buf[STUB_MAX_FILTER_LEN];
static struct sock_filter net_buf[STUB_MAX_NET_LEN];

/* The init data, the safety net and the filter, from the control socket. */
static void read_init(struct stub_init_data *init)
{
	if (read_all(init, sizeof(*init)))
		die(0, STUB_INIT_READ);
	if (init->magic != STUB_INIT_MAGIC ||
	    init->filter_len > STUB_MAX_FILTER_LEN ||
	    init->net_len > STUB_MAX_NET_LEN ||
	    init->narenas > STUB_MAX_ARENAS || (init->stub_start & 4095))
		die(0, STUB_INIT_BAD_MAGIC);
	if (read_all(net_buf, init->net_len * sizeof(net_buf[0])) ||
	    read_all(filter_buf, init->filter_len * sizeof(filter_buf[0])))
		die(0, STUB_INIT_READ);
}

/* The data pages, and the robust futexes: from here on the kernel wakes
 * the monitor if the stub dies. */
static struct stub_data *map_data(const struct stub_init_data *init)
{
	struct stub_data *d = map_fixed(init->stub_start + STUB_PAGE_SIZE,
					STUB_DATA_PAGES * STUB_PAGE_SIZE,
					PROT_READ | PROT_WRITE, MAP_SHARED,
					STUB_DATA_FD);
	if (!d)
		die(0, STUB_INIT_MAP_DATA);
	d->stub_tid = (uint32_t)sys1(__NR_gettid, 0);
	d->robust_head.list.next = (uint64_t)&d->sync_entry;
	d->sync_entry.next = (uint64_t)&d->alive_entry;
	d->alive_entry.next = (uint64_t)&d->robust_head.list;
	d->robust_head.futex_offset = 8;
	d->robust_head.list_op_pending = 0;
	__atomic_store_n(&d->alive, d->stub_tid | STUB_FUTEX_WAITERS,
			 __ATOMIC_SEQ_CST);
	__atomic_store_n(&d->sync, d->stub_tid | STUB_FUTEX_WAITERS,
			 __ATOMIC_SEQ_CST);
	if (sys2(__NR_set_robust_list, &d->robust_head,
		 sizeof(d->robust_head)))
		die(d, STUB_INIT_ROBUST);
	return d;
}

/* The code page (a copy of section stub_page, then read+exec) and the
 * guest-code arenas. */
static void map_code(const struct stub_init_data *init, struct stub_data *d)
{
	uint64_t page_len = (uint64_t)(__stop_stub_page - __start_stub_page);
	if (page_len > STUB_PAGE_SIZE ||
	    !map_fixed(init->stub_start, STUB_PAGE_SIZE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1))
		die(d, STUB_INIT_MAP_CODE);
	copy_bytes((void *)init->stub_start, __start_stub_page, page_len);
	if (sys3(__NR_mprotect, init->stub_start, STUB_PAGE_SIZE,
		 PROT_READ | PROT_EXEC))
		die(d, STUB_INIT_MAP_CODE);

	/* Guest-code arenas: executable, writable, filled with int3. */
	for (uint32_t i = 0; i < init->narenas; i++) {
		const struct stub_arena *a = &init->arenas[i];
		char *p = map_fixed(a->addr, a->len,
				    PROT_READ | PROT_WRITE | PROT_EXEC,
				    MAP_PRIVATE | MAP_ANONYMOUS, -1);
		if (!p)
			die(d, STUB_INIT_MAP_ARENA);
		for (uint64_t j = 0; j < a->len; j++)
			((volatile char *)p)[j] = (char)0xcc;
	}
}

/* Where the arenas and the stub's syscall instructions are, for the
 * monitor. */
static void publish_layout(const struct stub_init_data *init,
			   struct stub_data *d)
{
	for (uint32_t i = 0; i < init->narenas; i++)
		d->arenas[i] = init->arenas[i];
	d->narenas = init->narenas;
	d->outside_gate[STUB_ABI_X86_64] = (uint64_t)outside_gate_x86_64;
	d->outside_gate[STUB_ABI_I386] = (uint64_t)outside_gate_i386;
	d->outside_spin = (uint64_t)outside_spin;
	d->stub_gate[STUB_ABI_X86_64] =
		in_page(init->stub_start, stub_gate_x86_64);
	d->stub_gate[STUB_ABI_I386] = in_page(init->stub_start, stub_gate_i386);
	/* mov $15, %eax is 5 bytes; the syscall follows. */
	d->restorer_syscall = in_page(init->stub_start, stub_restorer) + 5;
}

/* As UML: only the socket to the monitor stays open, non-blocking; the
 * SIGSYS handler in the stub page. */
static void enter_stub_state(const struct stub_init_data *init,
			     struct stub_data *d)
{
	if (sys3(__NR_close_range, 1, ~0U, 0))
		die(d, STUB_INIT_CLOSE_RANGE);
	sys3(__NR_fcntl, STUB_SOCKET_FD, F_SETFL, O_NONBLOCK);

	if (sys2(__NR_prctl, PR_SET_PDEATHSIG, SIGKILL) ||
	    sys6(__NR_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0, 0))
		die(d, STUB_INIT_PRCTL);

	struct k_sigaction sa = {
		.handler = (void *)in_page(init->stub_start, stub_sigsys),
		.flags = SA_SIGINFO | SA_RESTORER | SA_NODEFER,
		.restorer = (void *)in_page(init->stub_start, stub_restorer),
		.mask = ~0ULL,
	};
	if (sys4(__NR_rt_sigaction, SIGSYS, &sa, 0, sizeof(sa.mask)))
		die(d, STUB_INIT_SIGACTION);
}

/* Every stub is one process: the limit the sandbox could not set before
 * the second thread (or, for a factory child, before the template forked). */
static void limit_processes(struct stub_data *d)
{
	const struct {
		uint64_t cur, max;
	} one = {1, 1};
	if (sys4(__NR_prlimit64, 0, RLIMIT_NPROC, &one, 0))
		die(d, STUB_INIT_THREAD);
}

/* Thread 2 exists before any filter, so that TSYNC covers it. */
static void start_thread2(const struct stub_init_data *init,
			  struct stub_data *d)
{
	/* A mapping of its own, wherever mmap puts it: in .bss it would share
	 * the low range that random programs unmap with the binary, which the
	 * stub survives and the thread would not (docs/fuzzing.md). */
	long m = sys6(__NR_mmap, 0, STUB_THREAD2_STACK_SIZE, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m < 0 && m > -4096)
		die(d, STUB_INIT_THREAD);
	char *stack = (char *)m;
	d->thread2_stack_lo = (uint64_t)stack;
	d->thread2_stack_hi = (uint64_t)stack + STUB_THREAD2_STACK_SIZE;
	d->sync2 = 0; /* idle: the thread needs no handshake */
	void (*serve2)(struct stub_data *) =
		(void (*)(struct stub_data *))in_page(init->stub_start,
						      stub_serve2);
	long tid = spawn_thread(stack + STUB_THREAD2_STACK_SIZE, serve2, d,
				&d->thread2_tid);
	if (tid < 0)
		die(d, STUB_INIT_THREAD);
	/* CLONE_CHILD_SETTID writes it when the thread first runs; the
	 * monitor reads 0 as "ended", so write it now. The thread exists
	 * from here on, so TSYNC will cover it. */
	__atomic_store_n(&d->thread2_tid, (uint32_t)tid, __ATOMIC_RELEASE);
	limit_processes(d);
}

/* The safety net: without a listener, on every thread there is. */
static void install_net(const struct stub_init_data *init, struct stub_data *d)
{
	if (!init->install_filter || !init->net_len)
		return;
	struct sock_fprog net = {
		.len = (unsigned short)init->net_len,
		.filter = net_buf,
	};
	/* Both threads; a net on one thread only would leave the other to
	 * the filter under test alone. */
	long r = sys3(__NR_seccomp, SECCOMP_SET_MODE_FILTER,
		      init->second_thread ? SECCOMP_FILTER_FLAG_TSYNC : 0, &net);
	if (r < 0) {
		d->seccomp_ret = r;
		die(d, STUB_INIT_SAFETY_NET);
	}
}

/* The filter under test with the seed's flags. */
static void install_filter(const struct stub_init_data *init,
			   struct stub_data *d)
{
	if (!init->install_filter)
		return;
	struct sock_fprog prog = {
		.len = (unsigned short)init->filter_len,
		.filter = filter_buf,
	};
	/* The seed: the return value is the listener fd (or 0). */
	long r = sys3(__NR_seccomp, SECCOMP_SET_MODE_FILTER,
		      init->seccomp_flags, &prog);
	d->seccomp_ret = r;
	if (r < 0)
		die(d, STUB_INIT_SECCOMP);
}

static __attribute__((noreturn)) void serve_commands(uint64_t stub_start,
						      struct stub_data *d)
{
	/* Every syscall from here on is made from the stub page. */
	void (*serve)(struct stub_data *) =
		(void (*)(struct stub_data *))in_page(stub_start, stub_serve);
	serve(d);
	__builtin_unreachable();
}

/* The kernel's struct msghdr and a control message with two fds. */
struct k_iovec {
	void *base;
	unsigned long len;
};
struct k_msghdr {
	void *name;
	int namelen;
	struct k_iovec *iov;
	unsigned long iovlen;
	void *control;
	unsigned long controllen;
	unsigned int flags;
};
struct k_cmsg_fds {
	unsigned long len;
	int level;
	int type;
	int fds[2];
};
#define K_SOL_SOCKET 1
#define K_SCM_RIGHTS 1
#define K_MSG_CMSG_CLOEXEC 0x40000000

/* A fork request: one byte and two fds. */
static int recv_request(int fds[2])
{
	char byte;
	struct k_iovec iov = { &byte, 1 };
	struct k_cmsg_fds c = { 0 };
	struct k_msghdr m = { 0, 0, &iov, 1, &c, sizeof(c), 0 };
	long n = sys3(__NR_recvmsg, STUB_SOCKET_FD, &m, K_MSG_CMSG_CLOEXEC);

	if (n <= 0 || c.level != K_SOL_SOCKET || c.type != K_SCM_RIGHTS ||
	    c.len != sizeof(c))
		return -1;
	fds[0] = c.fds[0];
	fds[1] = c.fds[1];
	return 0;
}

/* The answer: the child's pidfd, or no fd and -errno. */
static void send_reply(int32_t err, int pidfd)
{
	struct k_iovec iov = { &err, sizeof(err) };
	struct k_cmsg_fds c = { 16 + sizeof(int), K_SOL_SOCKET, K_SCM_RIGHTS,
				{ pidfd, -1 } };
	struct k_msghdr m = { 0, 0, &iov, 1, pidfd >= 0 ? &c : 0,
			      pidfd >= 0 ? 24 : 0, 0 };
	sys3(__NR_sendmsg, STUB_SOCKET_FD, &m, 0);
}

/* A factory child: the template's code page and arenas are already here. */
static __attribute__((noreturn)) void become_stub(const struct stub_init_data *t,
						   int sock, int data)
{
	struct stub_init_data init;
	long s2 = sys3(__NR_fcntl, sock, F_DUPFD, 3);
	long d2 = sys3(__NR_fcntl, data, F_DUPFD, 3);

	if (s2 < 0 || d2 < 0 || sys3(__NR_dup3, s2, STUB_SOCKET_FD, 0) < 0 ||
	    sys3(__NR_dup3, d2, STUB_DATA_FD, 0) < 0)
		die(0, STUB_INIT_READ);
	sys3(__NR_close_range, 2, ~0U, 0);
	/* The template's data pages: the child maps its own there. */
	sys2(__NR_munmap, t->stub_start + STUB_PAGE_SIZE,
	     STUB_DATA_PAGES * STUB_PAGE_SIZE);
	read_init(&init);
	if (init.mode != STUB_MODE_STUB || init.stub_start != t->stub_start ||
	    init.narenas != t->narenas || init.net_len)
		die(0, STUB_INIT_LAYOUT);
	for (uint32_t i = 0; i < init.narenas; i++)
		if (init.arenas[i].addr != t->arenas[i].addr ||
		    init.arenas[i].len != t->arenas[i].len)
			die(0, STUB_INIT_LAYOUT);
	struct stub_data *d = map_data(&init);
	publish_layout(&init, d);
	/* Its own process group in the template's session: kill(0, ...)
	 * reaches only itself, without setsid()'s new autogroup. */
	sys2(__NR_setpgid, 0, 0);
	enter_stub_state(&init, d);
	/* start_thread2 sets the limit once the thread exists. */
	if (init.second_thread)
		start_thread2(&init, d);
	else
		limit_processes(d);
	/* The safety net came with the template: compiled once, not per stub
	 * (it lets this child's clone and PR_SET_PDEATHSIG through). */
	install_filter(&init, d);
	serve_commands(init.stub_start, d);
}

static __attribute__((noreturn)) void template_loop(const struct stub_init_data *t,
						     struct stub_data *d)
{
	/* Blocking: it waits for requests. */
	sys3(__NR_fcntl, STUB_SOCKET_FD, F_SETFL, 0);
	d->state = STUB_STATE_READY;
	__atomic_store_n(&d->sync, 0, __ATOMIC_RELEASE);
	sys6(__NR_futex, (long)&d->sync, FUTEX_WAKE, 0x7fffffff, 0, 0, 0);
	for (;;) {
		int fds[2];
		int pidfd = -1;

		if (recv_request(fds))
			sys1(__NR_exit_group, 0); /* the monitor has gone */
		_Static_assert(STUB_FACTORY_CLONE_FLAGS ==
				       (CLONE_PARENT | CLONE_PIDFD | SIGCHLD),
			       "the safety net allows the fork by its flags");
		long pid = sys6(__NR_clone, STUB_FACTORY_CLONE_FLAGS, 0,
				(long)&pidfd, 0, 0, 0);
		if (pid == 0)
			become_stub(t, fds[0], fds[1]);
		sys1(__NR_close, fds[0]);
		sys1(__NR_close, fds[1]);
		send_reply(pid < 0 ? (int32_t)pid : 0, pid < 0 ? -1 : pidfd);
		if (pid > 0)
			sys1(__NR_close, pidfd);
	}
}

void stub_main(void) __attribute__((noreturn, used));
void stub_main(void)
{
	struct stub_init_data init;

	read_init(&init);
	struct stub_data *d = map_data(&init);
	map_code(&init, d);
	publish_layout(&init, d);
	enter_stub_state(&init, d);
	if (init.mode == STUB_MODE_TEMPLATE) {
		install_net(&init, d);
		template_loop(&init, d);
	}
	if (init.second_thread)
		start_thread2(&init, d);
	install_net(&init, d);
	install_filter(&init, d);
	serve_commands(init.stub_start, d);
}
