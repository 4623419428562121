// Stacked filters and unknown actions, against the kernel: a forked child
// installs the filters (each only about getppid), calls getppid, and ends
// in a way that names the outcome. The model's combine must predict it.
#include <gtest/gtest.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "explain/outcome.h"
#include "filter/asm.h"
#include "filter/evaluator.h"

namespace stubfuzz::filter {
namespace {

// getppid gets `ret`; every other call is allowed.
Program only_getppid(uint32_t ret) {
  auto p = assemble("ld [nr]\n jeq #getppid, +0, allow\n ret #" + std::to_string(ret) +
                    "\nallow: ret #ALLOW\n");
  return p ? *p : Program{};
}

// An exit code holds a byte; MAX_ERRNO gets its own.
constexpr int kMaxErrnoExit = 95;

void on_sigsys(int, siginfo_t* si, void*) { _exit(100 + (si->si_errno & 63)); }

// Exit 0: ran; e < 95: ERRNO(e); 95: ERRNO(4095); 100 + d: TRAP(d);
// killed by SIGSYS: KILL.
std::string kernel_outcome(const std::vector<uint32_t>& rets) {
  pid_t pid = fork();
  if (pid == 0) {
    struct sigaction sa {};
    sa.sa_sigaction = on_sigsys;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGSYS, &sa, nullptr);
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) _exit(99);
    for (uint32_t ret : rets) {
      Program p = only_getppid(ret);
      sock_fprog fp{static_cast<unsigned short>(p.size()), p.data()};
      if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fp)) _exit(98);
    }
    long r = syscall(SYS_getppid);
    _exit(r >= 0 ? 0 : errno == 4095 ? kMaxErrnoExit : errno);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  if (WIFSIGNALED(status)) return WTERMSIG(status) == SIGSYS ? "KILL" : "signal";
  const int code = WEXITSTATUS(status);
  if (code == 0) return "ALLOW";
  if (code == kMaxErrnoExit) return "ERRNO(4095)";
  if (code >= 100) return "TRAP(" + std::to_string(code - 100) + ")";
  return "ERRNO(" + std::to_string(code) + ")";
}

TEST(StackedFilters, KernelPrecedenceMatchesTheModel) {
  const std::vector<std::vector<uint32_t>> stacks = {
      {SECCOMP_RET_ERRNO | 5, SECCOMP_RET_ERRNO | 7},  // same action: newest data
      {SECCOMP_RET_ERRNO | 7, SECCOMP_RET_ERRNO | 5},
      {SECCOMP_RET_ERRNO | 5, SECCOMP_RET_TRAP | 3},
      {SECCOMP_RET_TRAP | 3, SECCOMP_RET_ERRNO | 5},
      {SECCOMP_RET_LOG, SECCOMP_RET_ERRNO | 9},
      {SECCOMP_RET_ALLOW | 5, SECCOMP_RET_ERRNO | 4},
      {SECCOMP_RET_ALLOW, SECCOMP_RET_LOG},
      {SECCOMP_RET_TRACE | 1, SECCOMP_RET_ERRNO | 4},  // no tracer: ENOSYS
      {SECCOMP_RET_ERRNO | 3, 0x00010000},             // unknown: kills
      {SECCOMP_RET_ALLOW, 0x7ffe0000},
      {SECCOMP_RET_TRAP | 1, SECCOMP_RET_KILL_THREAD},
      {SECCOMP_RET_ERRNO | 5000},  // capped at MAX_ERRNO (4095)
  };
  for (const auto& rets : stacks) {
    EXPECT_EQ(kernel_outcome(rets), explain::predicted_outcome(combine_returns(rets)))
        << ::testing::PrintToString(rets);
  }
}

TEST(StackedFilters, EvaluateStackRunsEveryFilter) {
  const std::vector<Program> stack = {only_getppid(SECCOMP_RET_ERRNO | 1),
                                      only_getppid(SECCOMP_RET_TRAP | 2)};
  EXPECT_EQ(evaluate_stack(stack, make_seccomp_data(SYS_getppid, 0, 0)), SECCOMP_RET_TRAP | 2);
  EXPECT_EQ(evaluate_stack(stack, make_seccomp_data(SYS_getpid, 0, 0)), SECCOMP_RET_ALLOW);
}

}  // namespace
}  // namespace stubfuzz::filter
