// What /proc says of another process: the harness reads it to tell a stub
// that blocks or spins from one that waits for a CPU, and to name its fds.
#pragma once

#include <linux/filter.h>
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"

namespace stubfuzz::kernel {

// All threads of one process at one instant.
struct TaskSample {
  uint64_t cpu_ns = 0;     // CPU time used (schedstat), summed
  bool all_asleep = true;  // every thread in state S: waiting in a syscall
  bool dying = false;      // exiting, dumping core, or a fatal signal pending
};
TaskSample sample_tasks(pid_t pid);

// The syscall a sleeping thread is in, as /proc/<pid>/task/<tid>/syscall
// shows it (the number as the thread's ABI numbers it).
struct SleepingSyscall {
  pid_t tid = 0;
  long nr = -1;
  uint64_t args[6] = {};
};
// Every thread of `pid`, if each one sleeps interruptibly (state S) in a
// syscall; nullopt when any runs, sleeps outside a syscall or
// uninterruptibly (an exiting thread, the core dump path's wait: /proc
// still names the call it entered), or cannot be read. Two files a thread:
// every /proc entry looked up is walked again when the process is reaped.
// `leader_only`: the thread group leader's alone, from /proc/<pid> itself.
// Listing /proc/<pid>/task makes an entry for every thread, and a thread's
// is flushed by its own exit: killed on one CPU, a thread preempted in that
// flush held the monitor's reap of the leader (which walks the same
// entries) in a busy loop until the next tick.
std::optional<std::vector<SleepingSyscall>> sleeping_syscalls(pid_t pid, bool leader_only = false);

// What fd `fd` of `pid` is, as /proc/<pid>/fd names it ("" if closed).
std::string fd_target(pid_t pid, int fd);

// The seccomp filters installed in `pid` (a child of this process), newest
// first, as PTRACE_SECCOMP_GET_FILTER reads them: needs CAP_SYS_ADMIN. The
// process is stopped for the reading (PTRACE_SEIZE, PTRACE_INTERRUPT) and
// let go after.
Result<std::vector<std::vector<sock_filter>>> seccomp_filters(pid_t pid);

}  // namespace stubfuzz::kernel
