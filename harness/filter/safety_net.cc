#include "filter/safety_net.h"

#include <asm/unistd.h>
#include <linux/audit.h>
#include <linux/prctl.h>
#include <linux/seccomp.h>
#include <signal.h>

#include <algorithm>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "filter/syscall_names.h"
#include "stub_abi.h"

namespace stubfuzz::filter {

namespace {

// Sending a signal: allowed only to the stub's own pid (first argument).
constexpr const char* kSignalCalls[] = {"kill", "tkill", "tgkill", "rt_sigqueueinfo",
                                        "rt_tgsigqueueinfo"};

struct NetEntry {
  enum Kind {
    kDeny,
    kSignal,  // allowed to the stub's own pid only
    kClone,   // allowed with the stub's own flags only (stub_abi.h)
    kPrctl,   // allowed for PR_SET_PDEATHSIG, SIGKILL and PR_SET_NO_NEW_PRIVS, 1 only
  };
  uint32_t nr;
  Kind kind;
};

constexpr uint32_t kEperm = SECCOMP_RET_ERRNO | kSafetyNetErrno;

std::string fresh_label(const char* what, int& labels) {
  return std::string(what) + std::to_string(labels++);
}

// One number's test; falls through to the next when it is not this one.
void entry(Builder& b, const NetEntry& n, uint32_t own_pid, int& labels) {
  const std::string next = fresh_label("next", labels), allow = fresh_label("allow", labels),
                    deny = fresh_label("deny", labels);
  const uint32_t arg0 = offsetof(seccomp_data, args[0]);
  switch (n.kind) {
    case NetEntry::kDeny:
      b.jeq(n.nr, 0, next.c_str()).ret(kEperm);
      break;
    case NetEntry::kSignal:
      b.jeq(n.nr, 0, next.c_str()).load_abs(arg0).jeq(own_pid, 0, deny.c_str());
      b.ret(own_pid ? SECCOMP_RET_ALLOW : kEperm).at(deny.c_str()).ret(kEperm);
      break;
    case NetEntry::kClone:
      b.jeq(n.nr, 0, next.c_str())
          .load_abs(arg0)
          .jeq(STUB_THREAD_CLONE_FLAGS, allow.c_str(), 0)
          .jeq(STUB_FACTORY_CLONE_FLAGS, allow.c_str(), 0)
          .ret(kEperm)
          .at(allow.c_str())
          .ret(SECCOMP_RET_ALLOW);
      break;
    case NetEntry::kPrctl: {
      const std::string nnp = fresh_label("nnp", labels);
      const uint32_t arg1 = offsetof(seccomp_data, args[1]);
      b.jeq(n.nr, 0, next.c_str())
          .load_abs(arg0)
          .jeq(PR_SET_PDEATHSIG, 0, nnp.c_str())
          .load_abs(arg1)
          .jeq(SIGKILL, allow.c_str(), deny.c_str())
          .at(nnp.c_str())
          .jeq(PR_SET_NO_NEW_PRIVS, 0, deny.c_str())
          .load_abs(arg1)
          .jeq(1, allow.c_str(), 0)
          .at(deny.c_str())
          .ret(kEperm)
          .at(allow.c_str())
          .ret(SECCOMP_RET_ALLOW);
      break;
    }
  }
  b.at(next.c_str());
}

// A binary search over the sorted numbers: the kernel runs the net on every
// call, and emulates it for every syscall number each time it is installed
// (its action cache), so a path of a few compares instead of a chain of
// ~70 makes each stub's spawn cheaper (BM_Spawn/cost_net_*).
void search(Builder& b, std::span<const NetEntry> e, uint32_t own_pid, int& labels) {
  if (e.size() <= 4) {
    for (const NetEntry& n : e) entry(b, n, own_pid, labels);
    b.ret(SECCOMP_RET_ALLOW);
    return;
  }
  const size_t mid = e.size() / 2;
  const std::string upper = fresh_label("upper", labels);
  b.jge(e[mid].nr, upper.c_str(), 0);
  search(b, e.first(mid), own_pid, labels);
  b.at(upper.c_str());
  search(b, e.subspan(mid), own_pid, labels);
}

void arch_block(Builder& b, Arch arch, uint32_t own_pid) {
  std::vector<NetEntry> entries;
  for (const char* name : safety_net_denied()) {
    auto nr = syscall_number(arch, name);
    if (!nr) continue;
    NetEntry::Kind kind = NetEntry::kDeny;
    // The stub's own start-up calls, made in x86-64 only: a factory child
    // starts its second thread and sets PR_SET_PDEATHSIG under the net it
    // inherited from its template.
    if (arch == Arch::kX86_64 && std::string_view(name) == "clone") kind = NetEntry::kClone;
    if (arch == Arch::kX86_64 && std::string_view(name) == "prctl") kind = NetEntry::kPrctl;
    entries.push_back({static_cast<uint32_t>(*nr), kind});
  }
  for (const char* name : kSignalCalls)
    if (auto nr = syscall_number(arch, name))
      entries.push_back({static_cast<uint32_t>(*nr), NetEntry::kSignal});
  std::sort(entries.begin(), entries.end(),
            [](const NetEntry& x, const NetEntry& y) { return x.nr < y.nr; });
  entries.erase(std::unique(entries.begin(), entries.end(),
                            [](const NetEntry& x, const NetEntry& y) { return x.nr == y.nr; }),
                entries.end());
  b.load_abs(offsetof(seccomp_data, nr));
  // x32 calls are x86-64 calls with one more bit.
  if (arch == Arch::kX86_64) b.and_k(~uint32_t{__X32_SYSCALL_BIT});
  int labels = 0;
  search(b, entries, own_pid, labels);
}

}  // namespace

const std::vector<const char*>& safety_net_denied() {
  static const std::vector<const char*> names = {
      "reboot",
      "kexec_load",
      "kexec_file_load",
      "mount",
      "umount2",
      "umount",
      "pivot_root",
      "chroot",
      "move_mount",
      "fsopen",
      "fsmount",
      "fsconfig",
      "open_tree",
      "mount_setattr",
      "ptrace",
      "process_vm_writev",
      "process_vm_readv",
      "bpf",
      "perf_event_open",
      "setns",
      "unshare",
      "keyctl",
      "add_key",
      "request_key",
      "init_module",
      "finit_module",
      "delete_module",
      "swapon",
      "swapoff",
      "acct",
      "settimeofday",
      "clock_settime",
      "clock_adjtime",
      "adjtimex",
      "stime",
      "sethostname",
      "setdomainname",
      "iopl",
      "ioperm",
      "pidfd_send_signal",
      "pidfd_getfd",
      "kcmp",
      "userfaultfd",
      "quotactl",
      "nfsservctl",
      "vhangup",
      "syslog",
      "lookup_dcookie",
      "open_by_handle_at",
      "name_to_handle_at",
      "fanotify_init",
      "vm86",
      "vm86old",
      "modify_ldt",
      "clone3",
      "fork",
      "vfork",
      "execve",
      "execveat",
      "clone",
      // PR_SET_PDEATHSIG and friends: a stub must die with its harness.
      "prctl",
  };
  return names;
}

Program safety_net(uint32_t own_pid) {
  Builder b;
  // Split by arch; anything else the filter under test judges alone.
  b.load_abs(offsetof(seccomp_data, arch));
  Builder x86_64, i386;
  arch_block(x86_64, Arch::kX86_64, own_pid);
  arch_block(i386, Arch::kI386, own_pid);
  const Program a = x86_64.build(), c = i386.build();
  // Classic BPF jumps reach 255 instructions ahead at most.
  static_assert(sizeof(sock_filter::jf) == 1);
  if (a.size() > 255 || c.size() > 255) __builtin_trap();
  // jeq X86_64 -> next; else skip the x86-64 block to the i386 test.
  b.jeq(AUDIT_ARCH_X86_64, 0, static_cast<uint8_t>(a.size()));
  for (const auto& insn : a) b.raw(insn);
  b.jeq(AUDIT_ARCH_I386, 0, static_cast<uint8_t>(c.size()));
  for (const auto& insn : c) b.raw(insn);
  b.ret(SECCOMP_RET_ALLOW);
  return b.build();
}

}  // namespace stubfuzz::filter
