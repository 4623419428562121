// The model on UML's stub filter: what each origin and arch gets.
#include <gtest/gtest.h>
#include <linux/audit.h>
#include <sys/syscall.h>

#include "filter/evaluator.h"
#include "filter/uml_filter.h"

namespace stubfuzz::filter {
namespace {

constexpr uint64_t kStub = 0x7e0010000000;

uint32_t run(const Program& p, int nr, uint64_t ip, uint32_t arch = AUDIT_ARCH_X86_64) {
  Evaluation ev = evaluate(p, make_seccomp_data(nr, arch, ip));
  EXPECT_TRUE(ev.ok) << ev.fault;
  return ev.ret;
}

TEST(UmlFilterModel, OnlyTheSevenAllowedSyscallsRunFromTheStubPage) {
  const Program p = uml_stub_filter(kStub);
  const std::vector<uint32_t> allowed = uml_stub_allowlist();
  for (int nr = 0; nr < 460; nr++) {
    const bool ok = std::find(allowed.begin(), allowed.end(), nr) != allowed.end();
    EXPECT_EQ(run(p, nr, kStub + 3), ok ? SECCOMP_RET_ALLOW : SECCOMP_RET_KILL_PROCESS) << nr;
    EXPECT_EQ(run(p, nr, kStub + 4095), ok ? SECCOMP_RET_ALLOW : SECCOMP_RET_KILL_PROCESS) << nr;
  }
}

TEST(UmlFilterModel, EverySyscallFromOutsideTheStubPageTraps) {
  const Program p = uml_stub_filter(kStub);
  for (int nr : {SYS_futex, SYS_close, SYS_execve, SYS_rt_sigreturn}) {
    EXPECT_EQ(run(p, nr, 0x401002), SECCOMP_RET_TRAP);
    EXPECT_EQ(run(p, nr, kStub + 4096), SECCOMP_RET_TRAP);  // first data page
    EXPECT_EQ(run(p, nr, kStub - 1), SECCOMP_RET_TRAP);
  }
}

TEST(UmlFilterModel, I386FromTheStubPageIsKilled) {
  const Program p = uml_stub_filter(kStub);
  EXPECT_EQ(run(p, 11 /* i386 execve */, kStub + 6, AUDIT_ARCH_I386), SECCOMP_RET_KILL_PROCESS);
  EXPECT_EQ(run(p, SYS_futex, kStub + 6, AUDIT_ARCH_I386), SECCOMP_RET_KILL_PROCESS);
}

TEST(UmlFilterModel, SyscallInTheLastTwoBytesBeforeThePageCountsAsThePage) {
  // The kernel reports the address after the instruction: stub_start itself.
  const Program p = uml_stub_filter(kStub);
  EXPECT_EQ(run(p, SYS_futex, kStub), SECCOMP_RET_ALLOW);
  EXPECT_EQ(run(p, SYS_execve, kStub), SECCOMP_RET_KILL_PROCESS);
}

TEST(UmlFilterModel, UpperHalfAliasOfThePageTraps) {
  const Program p = uml_stub_filter(kStub);
  EXPECT_EQ(run(p, SYS_futex, kStub + (uint64_t{1} << 32) + 3), SECCOMP_RET_TRAP);
}

TEST(UmlFilterModel, TraceListsTheInstructionsThatRan) {
  const Program p = uml_stub_filter(kStub);
  Evaluation ev = evaluate(p, make_seccomp_data(SYS_futex, AUDIT_ARCH_X86_64, 0x401002));
  EXPECT_EQ(ev.trace, (std::vector<uint16_t>{0, 1, 5}));
  ASSERT_EQ(ev.comparisons.size(), 1u);
  EXPECT_EQ(ev.comparisons[0].pc, 1);
  EXPECT_EQ(ev.comparisons[0].value, 0u);
  EXPECT_EQ(ev.comparisons[0].operand, kStub >> 32);
  EXPECT_FALSE(ev.comparisons[0].taken);
}

TEST(StackedFilters, LowestActionWinsAndTheNewestFilterBreaksTies) {
  const uint32_t errno1 = SECCOMP_RET_ERRNO | 1, errno2 = SECCOMP_RET_ERRNO | 2;
  const uint32_t a[] = {SECCOMP_RET_ALLOW, SECCOMP_RET_TRAP, SECCOMP_RET_LOG};
  EXPECT_EQ(combine_returns(a), SECCOMP_RET_TRAP);
  const uint32_t b[] = {errno1, errno2};
  EXPECT_EQ(combine_returns(b), errno2);
  const uint32_t c[] = {SECCOMP_RET_KILL_THREAD, SECCOMP_RET_KILL_PROCESS};
  EXPECT_EQ(combine_returns(c), SECCOMP_RET_KILL_PROCESS);
  EXPECT_EQ(combine_returns({}), SECCOMP_RET_ALLOW);
  // An unknown action sorts by its code, then kills the process.
  const uint32_t d[] = {SECCOMP_RET_TRAP, 0x00010000};
  EXPECT_EQ(combine_returns(d), 0x00010000u);
  EXPECT_EQ(action_of(0x00010000), Action::kKillProcess);
  EXPECT_EQ(action_of(0x7ffe0000), Action::kKillProcess);
  EXPECT_EQ(action_of(SECCOMP_RET_ALLOW | 5), Action::kAllow);
}

TEST(Evaluator, DivisionByZeroXReturnsZero) {
  Program p = {{BPF_LDX | BPF_IMM, 0, 0, 0},
               {BPF_LD | BPF_IMM, 0, 0, 7},
               {BPF_ALU | BPF_DIV | BPF_X, 0, 0, 0},
               {BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ALLOW}};
  Evaluation ev = evaluate(p, {});
  EXPECT_TRUE(ev.ok);
  EXPECT_EQ(ev.ret, 0u);
}

TEST(Evaluator, LenLoadsTheSizeOfSeccompData) {
  Program p = {{BPF_LD | BPF_W | BPF_LEN, 0, 0, 0}, {BPF_RET | BPF_A, 0, 0, 0}};
  EXPECT_EQ(evaluate(p, {}).ret, 64u);
}

}  // namespace
}  // namespace stubfuzz::filter
