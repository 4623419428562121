// `stubfuzz check` must be able to fail: each probe is run against a profile
// with a seeded hole and must report the claim it breaks.
#include "check/check.h"

#include <gtest/gtest.h>
#include <linux/audit.h>
#include <linux/seccomp.h>
#include <sys/syscall.h>

#include "filter/uml_filter.h"
#include "kernel/facts.h"
#include "profile/profile.h"

namespace stubfuzz {
namespace {

Verdict verdict_of(const CheckReport& r, std::string_view name) {
  for (const auto& row : r.rows)
    if (row.name == name) return row.verdict;
  ADD_FAILURE() << "no row " << name;
  return Verdict::kFail;
}

// The kernel's own finding is PRESENT exactly where the probed facts say.
Verdict exemption_verdict() {
  return kernel::facts().exempts_uprobe_calls() ? Verdict::kPresent : Verdict::kAbsent;
}

Profile with_filter(std::function<filter::Program(const StubLayout&)> make) {
  Profile p = **find_profile("listener");
  p.name = "listener+hole";
  p.make_filter = std::move(make);
  return p;
}

TEST(Check, EveryClaimOfListenerHoldsAndBothKnownFindingsReproduce) {
  auto r = run_checks(**find_profile("listener"));
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(verdict_of(r, "listener-fd-1"), Verdict::kPass);
  EXPECT_EQ(verdict_of(r, "no-listener-ioctl"), Verdict::kPass);
  EXPECT_EQ(verdict_of(r, "outside-traps"), Verdict::kPass);
  EXPECT_EQ(verdict_of(r, "stub-allowlist"), Verdict::kPass);
  EXPECT_EQ(verdict_of(r, "listener-survives"), Verdict::kPass);
  EXPECT_EQ(verdict_of(r, "close-listener-from-stub-page"), Verdict::kFinding);
  EXPECT_EQ(verdict_of(r, "syscall-just-below-stub-page"), Verdict::kFinding);
  EXPECT_EQ(verdict_of(r, "uprobe-calls-exempt-from-seccomp"), exemption_verdict());
  EXPECT_EQ(verdict_of(r, "harness-left-nothing"), Verdict::kPass);
}

TEST(Check, MainlineHoldsItsClaims) {
  auto r = run_checks(**find_profile("mainline"));
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(verdict_of(r, "outside-traps"), Verdict::kPass);
  EXPECT_EQ(verdict_of(r, "stub-allowlist"), Verdict::kPass);
}

TEST(CheckCanFail, IoctlOnTheStubAllowlistBreaksNoListenerIoctl) {
  auto p = with_filter([](const StubLayout& l) {
    auto allow = filter::uml_stub_allowlist();
    allow.push_back(SYS_ioctl);
    return filter::uml_stub_filter(l.stub_start, allow);
  });
  auto r = run_checks(p);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(verdict_of(r, "no-listener-ioctl"), Verdict::kFail);
}

TEST(CheckCanFail, AllowingOutsideTheStubPageBreaksOutsideTraps) {
  auto p = with_filter([](const StubLayout& l) {
    auto prog = filter::uml_stub_filter(l.stub_start);
    prog[5].k = SECCOMP_RET_ALLOW;  // [5] is the outside-the-page TRAP
    return prog;
  });
  auto r = run_checks(p);
  EXPECT_EQ(verdict_of(r, "outside-traps"), Verdict::kFail);
}

TEST(CheckCanFail, AFilterBlindToTheUpper32BitsBreaksOutsideTraps) {
  auto p = with_filter([](const StubLayout& l) {
    auto prog = filter::uml_stub_filter(l.stub_start);
    prog[1].jf = 0;  // the upper-half mismatch no longer jumps to TRAP
    return prog;
  });
  EXPECT_EQ(verdict_of(run_checks(p), "outside-traps"), Verdict::kFail);
}

TEST(CheckCanFail, AKnownFindingThatStopsReproducingIsReportedGone) {
  auto p = with_filter([](const StubLayout& l) {
    auto allow = filter::uml_stub_allowlist();
    std::erase(allow, static_cast<uint32_t>(SYS_close));
    return filter::uml_stub_filter(l.stub_start, allow);
  });
  auto r = run_checks(p);
  EXPECT_EQ(verdict_of(r, "close-listener-from-stub-page"), Verdict::kGone);
  EXPECT_FALSE(r.ok());
}

}  // namespace
}  // namespace stubfuzz
