// The verdict matrix of UML's filter, and its verification in real stubs.
#include <gtest/gtest.h>

#include "explain/explain.h"
#include "explain/verify.h"
#include "filter/asm.h"
#include "filter/uml_filter.h"

namespace stubfuzz::explain {
namespace {

using filter::Arch;

const Row* find_row(const Explanation& e, Arch arch, const std::string& name) {
  for (const Row& r : e.rows)
    if (r.arch == arch && std::find(r.names.begin(), r.names.end(), name) != r.names.end())
      return &r;
  return nullptr;
}

TEST(Explain, UmlMatrixFoldsTheAllowListAndTheRest) {
  const StubLayout layout;
  const Explanation e =
      explain(filter::uml_stub_filter(layout.stub_start), {.stub_start = layout.stub_start});
  ASSERT_TRUE(e.check_error.empty());
  const Row* futex = find_row(e, Arch::kX86_64, "futex");
  ASSERT_TRUE(futex);
  EXPECT_EQ(futex->names.size(), 7u);
  EXPECT_EQ(futex->rets, (std::array<uint32_t, 4>{SECCOMP_RET_ALLOW, SECCOMP_RET_TRAP,
                                                  SECCOMP_RET_ALLOW, SECCOMP_RET_TRAP}));
  const Row* execve = find_row(e, Arch::kX86_64, "execve");
  ASSERT_TRUE(execve);
  EXPECT_TRUE(execve->rest);
  EXPECT_EQ(execve->rets[0], SECCOMP_RET_KILL_PROCESS);
  const Row* i386 = find_row(e, Arch::kI386, "execve");
  ASSERT_TRUE(i386);
  EXPECT_TRUE(i386->rest);
  EXPECT_EQ(i386->names.size(), filter::syscalls(Arch::kI386).size());
  EXPECT_EQ(i386->rets[0], SECCOMP_RET_KILL_PROCESS);
  EXPECT_EQ(i386->rets[1], SECCOMP_RET_TRAP);

  const std::string text = to_text(e);
  EXPECT_NE(text.find("all other syscalls"), std::string::npos) << text;
  const nlohmann::json j = to_json(e);
  EXPECT_EQ(j["rows"].size(), e.rows.size());
  EXPECT_EQ(j["columns"][0]["name"], "stub_page");
}

TEST(Explain, UmlMatrixAgreesWithTheKernelInRealStubs) {
  const StubLayout layout;
  auto r = verify(filter::uml_stub_filter(layout.stub_start), {.layout = layout, .per_row = 4});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(r->agrees()) << to_text(*r);
  EXPECT_GT(r->cells_run, 0u);
  // ALLOWed from the stub page or before it, and not harmless: never run.
  EXPECT_FALSE(r->not_run.empty());
  for (const Cell& c : r->not_run) EXPECT_EQ(c.predicted, "ALLOW");
}

// Traps all but the stub loop's own calls, so every cell reports the
// address the kernel saw: it must be the one the model used.
TEST(Explain, TrapAddressesOfEveryColumnMatchTheModel) {
  const StubLayout layout;
  auto prog = filter::assemble(R"(
      ld [ip_hi]
      jeq #STUB_HI, +0, trap
      ld [ip]
      and #PAGE_MASK
      jeq #STUB_PAGE, +0, trap
      ld [arch]
      jeq #AUDIT_ARCH_X86_64, +0, trap
      ld [nr]
      jeq #futex, allow
      jeq #rt_sigreturn, allow, trap
    allow: ret #ALLOW
    trap: ret #TRAP(7)
  )",
                               {.stub_start = layout.stub_start});
  ASSERT_TRUE(prog.ok()) << prog.error().message;
  auto r = verify(*prog, {.layout = layout, .per_row = 3});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(r->agrees()) << to_text(*r);
  EXPECT_GE(r->cells_run, 20u);
  EXPECT_EQ(to_json(*r)["agrees"], true);
}

}  // namespace
}  // namespace stubfuzz::explain
