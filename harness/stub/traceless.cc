#include "stub/traceless.h"

#include <errno.h>
#include <linux/futex.h>
#include <sys/syscall.h>

namespace stubfuzz {

namespace {
constexpr uint64_t kArchGetCpuid = 0x1011;  // asm/prctl.h
}  // namespace

bool leaves_no_trace(const stub_record& r, int64_t ret) {
  // i386 numbers differ, and x32's bit makes another call (or ENOSYS):
  // neither is worth the risk of a second table.
  if (r.abi != STUB_ABI_X86_64) return false;
  const uint64_t* a = r.args;
  switch (r.nr) {
    // Queries answered in rax alone.
    case SYS_getpid:
    case SYS_getppid:
    case SYS_gettid:
    case SYS_getuid:
    case SYS_geteuid:
    case SYS_getgid:
    case SYS_getegid:
    case SYS_getpgrp:
    case SYS_getpgid:
    case SYS_getsid:
    case SYS_getpriority:
    case SYS_sched_getscheduler:
    case SYS_sched_get_priority_max:
    case SYS_sched_get_priority_min:
    case SYS_sched_yield:
    case SYS_kcmp:
      return true;
    case SYS_time:  // writes *arg0 unless it is NULL
      return a[0] == 0;
    case SYS_personality:  // 0xffffffff asks without setting
      return static_cast<uint32_t>(a[0]) == 0xffffffffu;
    // The fd is looked up first; with none, nothing was done.
    case SYS_close:
    case SYS_recvmsg:
    case SYS_dup:
    case SYS_fcntl:
    case SYS_ioctl:
      return ret == -EBADF;
    // Range checks before anything is unmapped.
    case SYS_munmap:
      return ret == -EINVAL;
    case SYS_arch_prctl:
      // An unknown code is refused before anything; ARCH_GET_CPUID
      // answers in rax.
      return ret == -EINVAL || a[0] == kArchGetCpuid;
    case SYS_futex: {
      // Waits and wakes leave nothing behind (the stub's own words are
      // waited on in loops that check the value); requeues, PI and
      // wake-op change other words or owners.
      const uint64_t op = a[1] & FUTEX_CMD_MASK;
      return op == FUTEX_WAIT || op == FUTEX_WAKE || op == FUTEX_WAIT_BITSET ||
             op == FUTEX_WAKE_BITSET;
    }
    default:
      return false;
  }
}

}  // namespace stubfuzz
