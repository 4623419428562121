#include "kernel/facts.h"

#include <asm/unistd.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <mutex>

#include "kernel/child.h"
#include "kernel/listener.h"
#include "kernel/sys.h"

namespace stubfuzz::kernel {

static_assert(kAuditArchI386 == AUDIT_ARCH_I386 && kAuditArchX86_64 == AUDIT_ARCH_X86_64);

namespace {

constexpr uint32_t kI386Getpid = 20;
// What the deny-all filter answers; an exempt call returns something else.
constexpr uint16_t kDeniedErrno = 4000;
// The only call the probe filter lets through: exit_group(kProbeDone).
constexpr uint32_t kProbeDone = 0x5ecc0de;
constexpr int kProbeDoneStatus = kProbeDone & 0xff;

// Raw calls with every argument zero: no libc, no errno, nothing intercepted.
long raw_syscall(long nr) {
  long ret;
  register long r10 asm("r10") = 0;
  register long r8 asm("r8") = 0;
  register long r9 asm("r9") = 0;
  asm volatile("syscall"
               : "=a"(ret)
               : "a"(nr), "D"(0L), "S"(0L), "d"(0L), "r"(r10), "r"(r8), "r"(r9)
               : "rcx", "r11", "memory");
  return ret;
}

long raw_exit_group(long status) {
  long ret;
  asm volatile("syscall" : "=a"(ret) : "a"(long{SYS_exit_group}), "D"(status) : "rcx", "r11");
  return ret;
}

// int $0x80 with ebx..edi zero; ebp is left alone (the frame pointer).
long raw_int80(long nr) {
  long ret;
  asm volatile("int $0x80"
               : "=a"(ret)
               : "a"(nr), "b"(0L), "c"(0L), "d"(0L), "S"(0L), "D"(0L)
               : "r8", "r9", "r10", "r11", "memory");
  return static_cast<int32_t>(ret);
}

// Denies every call with ERRNO(kDeniedErrno) but x86-64 exit_group(kProbeDone).
struct DenyAll {
  sock_filter insns[8] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 0, 5),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_exit_group, 0, 3),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, args[0])),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, kProbeDone, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | kDeniedErrno),
  };
  sock_fprog prog{8, insns};
};

// Shared with the probe children: where they are and what each call gave.
struct ExemptScan {
  volatile uint32_t next;
  volatile int64_t ret[kProbedNrs];
};

// Runs every number of one ABI under DenyAll; a call that does anything but
// return -kDeniedErrno never went through the filter.
Result<std::vector<Exemption>> scan_exemptions(bool i386) {
  void* mem =
      mmap(nullptr, sizeof(ExemptScan), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) return Error::from_errno("mmap (exemption scan)");
  auto* scan = static_cast<ExemptScan*>(mem);
  std::vector<Exemption> out;
  DenyAll deny;
  uint32_t start = 0;
  while (start < kProbedNrs) {
    scan->next = start;
    auto e = run_child("exemption scan", [&] {
      if (install_in_child(&deny.prog, 0) < 0) return 1;
      for (uint32_t nr = start; nr < kProbedNrs; nr++) {
        scan->next = nr;
        scan->ret[nr] = i386 ? raw_int80(nr) : raw_syscall(nr);
      }
      scan->next = kProbedNrs;
      raw_exit_group(kProbeDone);
      return 2;
    });
    if (!e && e.error().err != ETIMEDOUT) {
      munmap(mem, sizeof(ExemptScan));
      return e.error();
    }
    const uint32_t at = scan->next;
    for (uint32_t nr = start; nr < at && nr < kProbedNrs; nr++)
      if (scan->ret[nr] != -kDeniedErrno)
        out.push_back({nr, "returned " + std::to_string(scan->ret[nr])});
    if (e && e->exited_with(kProbeDoneStatus) && at == kProbedNrs) break;
    if (e && e->exited_with(1)) {
      munmap(mem, sizeof(ExemptScan));
      return Error{"exemption scan: the probe filter was refused", EINVAL};
    }
    // The call at `at` ended or blocked the child without the filter's say.
    out.push_back({at, e ? describe(*e) : "blocked"});
    start = at + 1;
  }
  munmap(mem, sizeof(ExemptScan));
  return out;
}

bool i386_works() {
  auto e = run_child("i386 probe", [] { return raw_int80(kI386Getpid) > 0 ? 0 : 1; });
  return e && e->exited_with(0);
}

bool x32_works() {
  auto e = run_child("x32 probe",
                     [] { return raw_syscall(__X32_SYSCALL_BIT | SYS_getpid) == -ENOSYS ? 1 : 0; });
  return e && e->exited_with(0);
}

bool user_namespaces_work() {
  auto e = run_child("user namespace probe", [] {
    return unshare(CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWNET) == 0 ? 0 : 1;
  });
  return e && e->exited_with(0);
}

bool pidfd_getfd_works() {
  auto self = pidfd_open(getpid());
  return self && pidfd_getfd(self->get(), self->get(), getpid()).ok();
}

}  // namespace

double Facts::pace() const {
  // The scan's time on the 2-core VMs that measured 0.5-0.8 ms, with room
  // for a loaded machine: those run at pace 1.
  constexpr double kOrdinaryScanNs = 2e6;
  return std::clamp(static_cast<double>(scan_ns) / kOrdinaryScanNs, 1.0, 64.0);
}

std::chrono::milliseconds paced(std::chrono::milliseconds base) {
  return std::chrono::milliseconds(
      static_cast<int64_t>(static_cast<double>(base.count()) * facts().pace() + 0.5));
}

std::string Facts::describe_exemptions() const {
  std::string out;
  for (const auto* list : {&exempt_x86_64, &exempt_i386}) {
    if (list->empty()) continue;
    if (!out.empty()) out += "; ";
    out += list == &exempt_i386 ? "i386" : "x86_64";
    for (size_t i = 0; i < list->size(); i++)
      out += (i ? ", " : " ") + std::to_string((*list)[i].nr) + " (" + (*list)[i].effect + ")";
  }
  return out.empty() ? "none" : out;
}

std::string Facts::exemption_evidence() const {
  if (exempt_x86_64.empty() && exempt_i386.empty())
    return "this kernel filters every call, uretprobe (335) and uprobe (336) included";
  return "this kernel runs " + describe_exemptions() + " without the filter";
}

Facts probe_facts() {
  Facts f;
  utsname u{};
  if (uname(&u) == 0) f.release = u.release;
  f.i386_abi = i386_works();
  f.x32_abi = x32_works();
  for (bool i386 : {false, true}) {
    if (i386 && !f.i386_abi) continue;
    const auto t0 = Clock::now();
    auto scan = scan_exemptions(i386);
    if (!i386)
      f.scan_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count();
    if (scan)
      (i386 ? f.exempt_i386 : f.exempt_x86_64) = std::move(*scan);
    else
      f.errors.push_back(scan.error().message);
  }
  const ListenerFeatures listener = probe_listener_features();
  f.tsync_esrch = listener.tsync_esrch;
  f.sync_wake_up = listener.sync_wake_up;
  f.recv_after_hangup = listener.recv_after_hangup;
  f.pidfd_getfd = pidfd_getfd_works();
  f.user_namespaces = user_namespaces_work();
  return f;
}

const Facts& facts() {
  // Never destroyed: fuzz targets judge from a pool thread until exit.
  static std::once_flag once;
  static Facts* cached = nullptr;
  std::call_once(once, [] { cached = new Facts(probe_facts()); });
  return *cached;
}

}  // namespace stubfuzz::kernel
