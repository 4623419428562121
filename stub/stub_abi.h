/* SPDX-License-Identifier: MIT */
/*
 * The ABI between the stub and its monitor: init data, data-page layout,
 * command and result records. This is the only file the stub and the harness
 * share; it must stay valid C (the stub) and C++ (the harness), freestanding.
 */
#ifndef STUBFUZZ_STUB_ABI_H
#define STUBFUZZ_STUB_ABI_H

#include <stdint.h>

#define STUB_PAGE_SIZE 4096u
/* Data pages follow the code page directly, as in UML. */
#define STUB_DATA_PAGES 4u
#define STUB_REGION_SIZE (STUB_PAGE_SIZE * (1u + STUB_DATA_PAGES))

/*
 * Offsets in the stub page of its only syscall instructions (stub_page_asm.S
 * lays them out; the stub reports them and the harness checks): the gate the
 * command loop uses, and the SIGSYS restorer's rt_sigreturn. A hardened
 * filter allows exactly these two addresses.
 */
#define STUB_GATE_X86_64_OFFSET 1u
#define STUB_GATE_I386_OFFSET 4u
#define STUB_RESTORER_SYSCALL_OFFSET 12u

/* Where a fresh stub finds its pieces before it closes them (close_range). */
#define STUB_SOCKET_FD 0 /* unix stream socket to the monitor; stays open */
#define STUB_DATA_FD 1   /* memfd backing the data pages; closed after mmap */

#define STUB_INIT_MAGIC 0x53465a31u /* "SFZ1" */
#define STUB_MAX_FILTER_LEN 4096u   /* BPF_MAXINSNS */
#define STUB_MAX_NET_LEN 512u       /* the safety net's instructions */
#define STUB_MAX_ARENAS 4u

/* Executable pages (RWX) the stub maps before its filter: "guest code". */
struct stub_arena {
	uint64_t addr;
	uint64_t len;
};

/*
 * Sent by the monitor over fd 0, followed by net_len, then filter_len
 * struct sock_filter records. The safety net, if any, is installed first and
 * without a listener, so the filter under test still gets fd 1.
 */
struct stub_init_data {
	uint32_t magic;
	uint32_t filter_len;
	uint32_t net_len;
	uint32_t second_thread; /* 1: start thread 2 before the filters */
	uint64_t stub_start; /* page-aligned address of the code page */
	uint64_t seccomp_flags;
	uint32_t install_filter; /* 0: run unfiltered (floors, benchmarks) */
	uint32_t narenas;
	struct stub_arena arenas[STUB_MAX_ARENAS];
	uint32_t mode; /* enum stub_mode */
	uint32_t pad;
};

/*
 * STUB_MODE_TEMPLATE: the stub factory's template (harness/stub/factory.h).
 * It maps its code page and arenas, enters the stub's state (fd 0 only, the
 * SIGSYS handler, PDEATHSIG, NO_NEW_PRIVS) without any filter, reports ready
 * on `sync`, and then serves fork requests on fd 0: one byte carrying, by
 * SCM_RIGHTS, a new stub's end of its control socket and its data memfd.
 * For each it forks a child (CLONE_PARENT: the monitor's own child, and
 * CLONE_PIDFD) and answers with the child's pidfd by SCM_RIGHTS, or with no
 * fd and an int32 -errno. The child takes the two fds as fd 0 and
 * STUB_DATA_FD, reads its init data (same layout as the template's) from
 * the new socket and goes on exactly as a stub: data pages, its own process
 * group, the second thread, the safety net, the filter, the command loop.
 */
/* The stub's own clone() calls, which the safety net lets through by these
 * exact flags (harness/filter/safety_net.cc): its second thread, and the
 * factory template's fork of a stub. With RLIMIT_NPROC 1 in the sandbox,
 * a hijacked stub that repeats either gets EAGAIN. */
#define STUB_THREAD_CLONE_FLAGS 0x1250f00u /* VM FS FILES SIGHAND THREAD SYSVSEM CHILD_SETTID CHILD_CLEARTID */
#define STUB_FACTORY_CLONE_FLAGS 0x9011u /* PARENT PIDFD, SIGCHLD */
/* The second thread's stack: anonymous, wherever mmap puts it (its range is
 * in stub_data.thread2_stack_lo/hi); tests know the mapping by its size. */
#define STUB_THREAD2_STACK_SIZE (64u * 1024u)

enum stub_mode {
	STUB_MODE_STUB = 0,
	STUB_MODE_TEMPLATE = 1,
};

/* Where a record's syscall instruction lies. */
enum stub_origin {
	STUB_ORIGIN_STUB = 0,    /* the stub page's own syscall instruction */
	STUB_ORIGIN_OUTSIDE = 1, /* guest code in the stub binary's .text */
	STUB_ORIGIN_ADDRESS = 2, /* an instruction written at record.addr */
	STUB_ORIGIN_COUNT
};

enum stub_abi_kind {
	STUB_ABI_X86_64 = 0, /* syscall */
	STUB_ABI_I386 = 1,   /* int $0x80 */
	STUB_ABI_COUNT,
	/* Not a syscall: a jump to itself. The stub spins at the site and
	 * never comes back (what the series' watchdog is for). */
	STUB_ABI_SPIN = STUB_ABI_COUNT,
};

/* stub_record.pending: args[i] (bit i) and the response in scratch at
 * STUB_RESP_OFFSET (STUB_PENDING_RESP) take stub_data.pending_id when the
 * record starts: the id of the notification the monitor holds then. */
#define STUB_PENDING_RESP 0x40u
#define STUB_RESP_OFFSET 4032u /* a struct seccomp_notif_resp in scratch */

struct stub_record {
	uint8_t origin;  /* enum stub_origin */
	uint8_t abi;     /* enum stub_abi_kind */
	uint8_t thread;  /* 0: the stub's thread; 1: its second thread */
	uint8_t pending; /* STUB_PENDING_* and argument bits */
	uint32_t nr;
	/* STUB_ORIGIN_ADDRESS: where the syscall instruction is written. It
	 * needs 3 bytes (insn + ret) inside an arena, or must end exactly at
	 * stub_start, whose first byte is a ret. */
	uint64_t addr;
	uint64_t args[6];
};

enum stub_result_status {
	STUB_RESULT_PENDING = 0, /* never started: an earlier record ended it */
	STUB_RESULT_RUNNING = 1, /* started, did not return: the stub died */
	STUB_RESULT_DONE = 2,
	STUB_RESULT_BAD_RECORD = 3, /* origin, abi or addr the stub refuses */
};

struct stub_result {
	uint32_t status; /* enum stub_result_status */
	uint32_t trapped; /* a SIGSYS arrived while the record ran */
	int64_t ret;      /* rax after the instruction */
	/* The SIGSYS record, as the kernel filled it in. */
	uint64_t trap_call_addr; /* address after the syscall instruction */
	int32_t trap_syscall;
	uint32_t trap_arch;
	int32_t trap_errno; /* SECCOMP_RET_DATA of the trapping filter */
	uint32_t trap_count;
	uint64_t pending_id; /* what the record's PENDING arguments were */
};

#define STUB_MAX_RECORDS 64u
#define STUB_SCRATCH_SIZE 4096u

/*
 * Futex protocol on `sync` (a robust futex the stub registers, so that the
 * kernel itself wakes the monitor when the stub dies):
 *   monitor: write records, sync = stub_tid | FUTEX_WAITERS, wake, wait;
 *   stub:    run the batch, sync = 0, wake.
 * `alive` holds stub_tid | FUTEX_WAITERS for the stub's whole life, so a death
 * while idle is visible too (FUTEX_OWNER_DIED).
 * Before the stub runs, the monitor sets `sync` to STUB_SYNC_BOOTING, a
 * tid-shaped value no task has (pid_max is at most 2^22); the stub clears it
 * once its command loop runs.
 */
#define STUB_SYNC_BOOTING 0x3fffffffu
enum stub_state {
	STUB_STATE_BOOTING = 0,
	STUB_STATE_READY = 1,     /* filter installed, serving commands */
	STUB_STATE_INIT_FAILED = 2, /* see init_error; the stub exits */
};

/* Why init failed; the stub's exit code is the same number. */
enum stub_init_error {
	STUB_INIT_OK = 0,
	STUB_INIT_READ = 10,
	STUB_INIT_BAD_MAGIC = 11,
	STUB_INIT_MAP_DATA = 12,
	STUB_INIT_MAP_CODE = 13,
	STUB_INIT_MAP_ARENA = 14,
	STUB_INIT_CLOSE_RANGE = 15,
	STUB_INIT_SIGACTION = 16,
	STUB_INIT_PRCTL = 17,
	STUB_INIT_ROBUST = 18,
	STUB_INIT_SAFETY_NET = 20,
	STUB_INIT_SECCOMP = 21, /* as UML */
	STUB_INIT_THREAD = 22,  /* starting the second thread */
	STUB_INIT_LAYOUT = 23,  /* a factory child's layout is not its template's */
};

/* Robust-list entries the kernel walks at the stub's exit. */
struct stub_robust_entry {
	uint64_t next;
};
struct stub_robust_head {
	struct stub_robust_entry list;
	int64_t futex_offset;
	uint64_t list_op_pending;
};

struct stub_data {
	/* Written by the stub during init, read-only afterwards. */
	uint32_t state; /* enum stub_state */
	int32_t init_error;
	int64_t seccomp_ret; /* seccomp()'s return: the listener fd or -errno */
	uint32_t stub_tid;   /* in the stub's own pid namespace */
	uint32_t reserved0;
	uint64_t outside_gate[STUB_ABI_COUNT]; /* addresses in the stub binary */
	uint64_t stub_gate[STUB_ABI_COUNT];    /* the stub page's own, copied */
	uint64_t restorer_syscall;             /* its rt_sigreturn instruction */
	uint64_t outside_spin;                 /* a jump to itself in .text */

	/* Robust futex words; each sits right after its list entry. */
	struct stub_robust_head robust_head;
	struct stub_robust_entry sync_entry;
	uint32_t sync;
	uint32_t pad1;
	struct stub_robust_entry alive_entry;
	uint32_t alive;
	uint32_t pad2;

	/* Guest-code arenas, as mapped. refill_arenas (bit i: arena i) is the
	 * monitor's reset of a reused stub: before the next batch's records the
	 * first thread fills those arenas with int3 again, as they were mapped,
	 * and clears the bits. */
	uint32_t narenas;
	uint32_t refill_arenas;
	struct stub_arena arenas[STUB_MAX_ARENAS];

	/* Command. */
	uint32_t nrecords;
	uint32_t current; /* index of the record running now */
	uint64_t batches; /* batches completed */

	/* The second thread: its own command word (1: run your records, 0:
	 * done), its record index, its tid (0 once it has exited:
	 * CLONE_CHILD_CLEARTID) and its stack, to tell its SIGSYS apart. */
	uint32_t sync2;
	uint32_t current2;
	uint32_t thread2_tid;
	/* Set by a monitor that recognises a spin record from this page (its
	 * index and RUNNING status): before the jump the thread wakes the
	 * monitor's wait on its command word and sleeps this many microseconds,
	 * so that a monitor on the same CPU is not held off by the spin until
	 * the next tick. 0: spin at once (a watchdog must see the CPU time). */
	uint32_t spin_handoff_us;
	uint64_t thread2_stack_lo, thread2_stack_hi;
	uint64_t pending_id;
	/* The stub page's syscall instructions a STUB_ORIGIN_STUB x86-64 record
	 * may pick by record.addr (modulo their number), when there are several:
	 * UML's own stub page has one per call it makes. 0: stub_gate only. */
	uint32_t nstub_sites;
	uint32_t pad5;
	uint64_t stub_sites[16];
	struct stub_record records[STUB_MAX_RECORDS];
	struct stub_result results[STUB_MAX_RECORDS];
	uint8_t scratch[STUB_SCRATCH_SIZE] __attribute__((aligned(64)));
};

#ifdef __cplusplus
static_assert(sizeof(struct stub_data) <= STUB_DATA_PAGES * STUB_PAGE_SIZE,
	      "stub_data must fit in the data pages");
#else
_Static_assert(sizeof(struct stub_data) <= STUB_DATA_PAGES * STUB_PAGE_SIZE,
	       "stub_data must fit in the data pages");
#endif

#endif /* STUBFUZZ_STUB_ABI_H */
