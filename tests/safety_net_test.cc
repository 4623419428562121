// The safety net as the model runs it, for every syscall number of both
// arches and x32: EPERM for what it denies, signals only to the stub's own
// pid, ALLOW for everything else and for any other arch.
#include "filter/safety_net.h"

#include <gtest/gtest.h>
#include <linux/audit.h>
#include <linux/prctl.h>
#include <linux/seccomp.h>
#include <signal.h>

#include <algorithm>
#include <cstring>

#include "filter/evaluator.h"
#include "filter/syscall_names.h"
#include "stub_abi.h"

namespace stubfuzz::filter {
namespace {

bool named(Arch arch, uint32_t nr, const char* const* names, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (auto x = syscall_number(arch, names[i]); x && static_cast<uint32_t>(*x) == nr) return true;
  return false;
}

TEST(SafetyNet, DeniesExactlyItsListAndSignalsToOthersForEveryNumber) {
  const auto& denied = safety_net_denied();
  const char* const signals[] = {"kill", "tkill", "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo"};
  const uint32_t eperm = SECCOMP_RET_ERRNO | kSafetyNetErrno;
  for (uint32_t own_pid : {0u, 1u}) {
    const Program net = safety_net(own_pid);
    for (auto [arch, audit] : {std::pair<Arch, uint32_t>{Arch::kX86_64, AUDIT_ARCH_X86_64},
                               std::pair<Arch, uint32_t>{Arch::kI386, AUDIT_ARCH_I386}}) {
      for (uint32_t nr = 0; nr < 1024; nr++) {
        for (uint32_t bit : {0u, 0x40000000u}) {
          if (bit && arch != Arch::kX86_64) continue;
          for (uint64_t target : {uint64_t{own_pid}, uint64_t{4242}}) {
            seccomp_data d{};
            d.arch = audit;
            d.nr = static_cast<int>(nr | bit);
            d.args[0] = target;
            const Evaluation ev = evaluate(net, d, {});
            ASSERT_TRUE(ev.ok) << ev.fault;
            uint32_t want = SECCOMP_RET_ALLOW;
            const char* const clone_prctl[] = {"clone", "prctl"};
            if (arch == Arch::kX86_64 && named(arch, nr, clone_prctl, 2))
              want = eperm;  // for these arguments; the stub's own are below
            else if (named(arch, nr, denied.data(), denied.size()))
              want = eperm;
            else if (named(arch, nr, signals, std::size(signals)))
              want = own_pid && target == own_pid ? SECCOMP_RET_ALLOW : eperm;
            EXPECT_EQ(ev.ret, want) << "arch " << audit << " nr " << nr << " bit " << bit << " own "
                                    << own_pid << " target " << target;
          }
        }
      }
    }
    // The stub's own start-up calls, by their exact arguments, x86-64 only.
    auto run = [&](uint32_t audit, const char* name, uint64_t a0, uint64_t a1) {
      seccomp_data d{};
      d.arch = audit;
      d.nr = *syscall_number(audit == AUDIT_ARCH_X86_64 ? Arch::kX86_64 : Arch::kI386, name);
      d.args[0] = a0;
      d.args[1] = a1;
      return evaluate(net, d, {}).ret;
    };
    EXPECT_EQ(run(AUDIT_ARCH_X86_64, "clone", STUB_THREAD_CLONE_FLAGS, 0), SECCOMP_RET_ALLOW);
    EXPECT_EQ(run(AUDIT_ARCH_X86_64, "clone", STUB_FACTORY_CLONE_FLAGS, 0), SECCOMP_RET_ALLOW);
    EXPECT_EQ(run(AUDIT_ARCH_X86_64, "clone", STUB_FACTORY_CLONE_FLAGS | 0x10000000, 0), eperm);
    EXPECT_EQ(run(AUDIT_ARCH_I386, "clone", STUB_THREAD_CLONE_FLAGS, 0), eperm);
    EXPECT_EQ(run(AUDIT_ARCH_X86_64, "prctl", PR_SET_PDEATHSIG, SIGKILL), SECCOMP_RET_ALLOW);
    EXPECT_EQ(run(AUDIT_ARCH_X86_64, "prctl", PR_SET_PDEATHSIG, 0), eperm);
    EXPECT_EQ(run(AUDIT_ARCH_X86_64, "prctl", PR_SET_NO_NEW_PRIVS, 1), SECCOMP_RET_ALLOW);
    EXPECT_EQ(run(AUDIT_ARCH_X86_64, "prctl", PR_SET_NO_NEW_PRIVS, 0), eperm);
    EXPECT_EQ(run(AUDIT_ARCH_X86_64, "prctl", PR_SET_DUMPABLE, 1), eperm);
    seccomp_data other{};
    other.arch = AUDIT_ARCH_AARCH64;
    other.nr = 0;
    EXPECT_EQ(evaluate(net, other, {}).ret, SECCOMP_RET_ALLOW);
  }
}

}  // namespace
}  // namespace stubfuzz::filter
