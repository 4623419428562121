// Runs a probe in a forked child and waits for it, bounded: how the kernel
// facts are measured (kernel/facts.h). The child must run async-signal-safe
// code only (the parent may have threads) and returns its exit status.
#pragma once

#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <string>

#include "kernel/sys.h"

namespace stubfuzz::kernel {

inline constexpr std::chrono::seconds kProbeChildBound{10};

// In a fresh child: every signal back to its default action and unblocked,
// so that what the kernel does to the probe (SIGILL, SIGSEGV) ends it as it
// would end a stub, whatever handlers the parent has (libFuzzer's, ASan's).
// Raw calls: sanitizers intercept sigaction to keep their own handlers.
inline void reset_signals_in_child() {
  struct {
    __sighandler_t handler = SIG_DFL;
    unsigned long flags = 0;
    void* restorer = nullptr;
    uint64_t mask = 0;
  } dfl;
  for (int sig = 1; sig < 32; sig++)
    if (sig != SIGKILL && sig != SIGSTOP) syscall(SYS_rt_sigaction, sig, &dfl, nullptr, 8);
  const uint64_t none = 0;
  syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, nullptr, 8);
}

// seccomp(SET_MODE_FILTER) in a probe child, after NO_NEW_PRIVS: the
// listener fd or 0, else -errno. No allocation, no libc state.
inline int install_in_child(const sock_fprog* prog, unsigned flags) {
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return -errno;
  const long r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, prog);
  return r < 0 ? -errno : static_cast<int>(r);
}

template <class F>
Result<Exit> run_child(const char* what, F child,
                       std::chrono::nanoseconds bound = kProbeChildBound) {
  const pid_t pid = fork();
  if (pid < 0) return Error::from_errno(std::string("fork (") + what + ")");
  if (pid == 0) {
    reset_signals_in_child();
    _exit(child());
  }
  auto pidfd = pidfd_open(pid);
  if (!pidfd) {
    int status = 0;
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return pidfd.error();
  }
  auto r = reap(pidfd->get(), bound);
  if (r && r->has_value()) return **r;
  (void)pidfd_send_signal(pidfd->get(), SIGKILL);
  auto killed = reap(pidfd->get(), kProbeChildBound);
  if (!killed || !killed->has_value())
    return Error{std::string(what) + ": probe child did not end", ETIMEDOUT};
  return Error{std::string(what) + ": probe child blocked", ETIMEDOUT};
}

}  // namespace stubfuzz::kernel
