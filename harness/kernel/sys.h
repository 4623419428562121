// Thin wrappers over the raw syscalls glibc does not wrap (pidfd, futex,
// seccomp). Errors are values; nothing here knows about stubs.
#pragma once

#include <linux/filter.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/fd.h"
#include "base/result.h"

namespace stubfuzz::kernel {

using Clock = std::chrono::steady_clock;

Result<Fd> pidfd_open(pid_t pid);
// Duplicates `fd` of the process behind `pidfd` into this process.
Result<Fd> pidfd_getfd(int pidfd, int fd, pid_t pid_for_errors);
Status pidfd_send_signal(int pidfd, int sig);

// How a process ended, from waitid().
struct Exit {
  int code = 0;    // CLD_EXITED, CLD_KILLED, CLD_DUMPED
  int status = 0;  // exit status or signal number
  bool killed_by(int sig) const;
  bool exited_with(int st) const { return code == 1 && status == st; }
};
std::string describe(const Exit& e);

// Reaps the process behind `pidfd` if it has ended, without blocking.
Result<std::optional<Exit>> try_reap(int pidfd);
// Waits for the process to end, polling its pidfd, at most `timeout`.
Result<std::optional<Exit>> reap(int pidfd, std::chrono::nanoseconds timeout);

// Shared (not private) futexes: the stub and the monitor map the same memfd.
enum class FutexWait { kWoken, kValueChanged, kTimedOut, kInterrupted };
FutexWait futex_wait(const uint32_t* word, uint32_t expected, std::chrono::nanoseconds timeout);
void futex_wake(uint32_t* word, int count);

Result<Fd> memfd_create(const char* name, unsigned flags);
// A close-on-exec memfd holding `bytes`, sealed against any change: what an
// execveat() of a stub image runs.
Result<Fd> sealed_memfd(const char* name, std::span<const uint8_t> bytes);

// A process's pid in this pid namespace, from its pidfd (/proc/self/fdinfo).
Result<pid_t> pidfd_pid(int pidfd);

// Unix-socket fd passing (SCM_RIGHTS): `bytes` with `fds` attached, and a
// reply of `len` bytes with at most one fd, waited for at most `timeout`.
Status send_fds(int sock, std::span<const uint8_t> bytes, std::span<const int> fds);
Result<std::optional<Fd>> recv_with_fd(int sock, void* buf, size_t len,
                                       std::chrono::milliseconds timeout);

// Binds the calling thread (and every thread and process it starts after)
// to one CPU that no other process holds, as AFL++ binds each afl-fuzz: a
// lock file per CPU in `lock_dir` (flock, held until the process exits).
// Returns the CPU, or -1 when the thread is already bound to a single CPU
// (an engine bound it) or every allowed CPU is taken.
Result<int> bind_to_free_cpu(const std::string& lock_dir);
// How many CPUs the calling thread may run on.
int allowed_cpus();

// seccomp(2) operations on the calling process.
Status seccomp_action_available(uint32_t action);

// kernel.seccomp.actions_logged, its words in order ("" if unreadable), and
// whether it logs kills: every stub a filter kills then writes an audit
// record (to the kernel log when no auditd runs), 25-80 us a killed program
// on the VMs here.
std::vector<std::string> seccomp_actions_logged();
bool seccomp_kills_logged(const std::vector<std::string>& logged);

}  // namespace stubfuzz::kernel
