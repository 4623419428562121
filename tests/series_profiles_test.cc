// The series after 1/7 as profiles, on real stubs: the monitor answers real
// notifications by each patch's rules, and each patch closes its hole — and
// the checks can fail: take a rule away and the oracle reports the hole.
#include <gtest/gtest.h>
#include <linux/audit.h>
#include <linux/seccomp.h>
#include <sys/syscall.h>

#include <algorithm>

#include "check/check.h"
#include "filter/uml_filter.h"
#include "fuzz/executor.h"
#include "fuzz/oracle.h"
#include "fuzz/program.h"
#include "fuzz/replay.h"
#include "monitor/monitor.h"
#include "profile/findings.h"
#include "profile/profile.h"
#include "test_support.h"

namespace stubfuzz::fuzz {
namespace {

using Series = testing_support::LeakFree;

const Profile& profile(std::string_view name) { return **find_profile(name); }

struct Run {
  Program program;
  ReplayResult result;
  const Observation& at(size_t i) const { return result.execution.records[i]; }
  // Classes of finding the oracle reported, judging every claim.
  std::vector<FindingId> classes() const {
    std::vector<FindingId> c;
    for (const auto& b : result.judgement.breaches) c.push_back(b.cls);
    return c;
  }
  bool found(FindingId cls) const {
    const auto c = classes();
    return std::find(c.begin(), c.end(), cls) != c.end();
  }
};

Run run(const Profile& p, std::string_view text) {
  auto prog = parse_text(text);
  EXPECT_TRUE(prog.ok()) << prog.error().message;
  Executor ex(p);
  auto r = replay(ex, p, *prog, /*every_claim=*/true);
  EXPECT_TRUE(r.ok()) << r.error().message;
  Run out{*prog, r.ok() ? *r : ReplayResult{}};
  for (const auto& v : out.result.judgement.records) EXPECT_TRUE(v.agrees) << text;
  return out;
}

constexpr const char* kQueuedMap = "queued mmap(0x200000000, 4096, 3, 0x32, -1, 0)\n";
constexpr const char* kHijackedMap = "stub mmap(0, 4096, 7, 0x22, -1, 0)\n";

TEST_F(Series, EveryBuiltinProfileSpawnsAndItsFilterPassesTheKernel) {
  for (const auto& p : builtin_profiles()) {
    auto r = run(p, "outside getpid()\n");
    EXPECT_EQ(r.at(0).kind, Observed::kTrapped) << p.name;
  }
}

TEST_F(Series, NotifyMmapContinuesTheQueuedMmapAndItMaps) {
  auto r = run(profile("notify-mmap"), kQueuedMap);
  EXPECT_EQ(r.at(0).answer, Answer::kContinued);
  EXPECT_EQ(r.at(0).ret, 0x200000000);
  EXPECT_TRUE(r.classes().empty());
}

TEST_F(Series, ListenerLetsAnUnqueuedMmapThroughAndTheOracleSaysSo) {
  auto r = run(profile("listener"), std::string(kQueuedMap) + kHijackedMap);
  EXPECT_GT(r.at(1).ret, 0);
  EXPECT_TRUE(r.found(finding::kUnsanctionedMmap));
}

TEST_F(Series, NotifyMmapLeavesAnUnqueuedMmapUnreadAndTheMonitorHangs) {
  auto r = run(profile("notify-mmap"), std::string(kQueuedMap) + kHijackedMap);
  EXPECT_EQ(r.at(0).answer, Answer::kContinued);
  EXPECT_EQ(r.at(1).kind, Observed::kBlocked);
  EXPECT_FALSE(r.at(1).answer.has_value()) << "2/7 reads one notification per queued mmap";
  EXPECT_TRUE(r.found(finding::kMonitorHang));
  EXPECT_FALSE(r.found(finding::kUnsanctionedMmap));
}

TEST_F(Series, NotifyDrainDeniesTheUnqueuedMmapAndDoesNotHang) {
  auto r = run(profile("notify-drain"), std::string(kQueuedMap) + kHijackedMap);
  EXPECT_EQ(r.at(1).answer, Answer::kDenied);
  EXPECT_EQ(r.at(1).ret, -EPERM);
  EXPECT_TRUE(r.classes().empty());
}

TEST_F(Series, ValidationDeniesMoreAccessThanQueuedAndAcceptsLess) {
  auto r = run(profile("notify-drain"),
               "queued mmap(0x200000000, 4096, 3, 0x32, -1, 0)\n"
               "stub mmap(0x200000000, 4096, 7, 0x32, -1, 0)\n"  // + PROT_EXEC
               "queued mmap(0x200004000, 4096, 3, 0x32, -1, 0)\n"
               "stub mmap(0x200004000, 4096, 1, 0x32, -1, 0)\n");  // read-only: less
  EXPECT_EQ(r.at(0).answer, Answer::kContinued);
  EXPECT_EQ(r.at(1).answer, Answer::kDenied);
  EXPECT_EQ(r.at(2).answer, Answer::kContinued);
  EXPECT_EQ(r.at(3).answer, Answer::kDenied) << "the queued one was used up by record 2";
}

// Can fail: 2/7 without 3/7 lets a hijacked mmap stand in for a queued one.
TEST_F(Series, WithoutValidationTheHijackedMmapIsContinuedAndReported) {
  Profile only_2_of_7 = profile("notify-drain");
  only_2_of_7.monitor.validates_mmap = false;
  auto r = run(only_2_of_7, std::string(kHijackedMap) + kQueuedMap);
  EXPECT_EQ(r.at(0).answer, Answer::kContinued);
  EXPECT_TRUE(r.found(finding::kUnsanctionedMmap));
}

TEST_F(Series, MunmapOfTheStubPageKillsItBeforeNotifyMunmapAndIsDeniedAfter) {
  const char* unmap = "stub munmap(STUB, 4096)\n";
  auto before = run(profile("notify-drain"), unmap);
  EXPECT_EQ(before.at(0).kind, Observed::kKilled);
  EXPECT_TRUE(before.found(finding::kMunmapStubRegion));
  auto after = run(profile("notify-munmap"), unmap);
  EXPECT_EQ(after.at(0).answer, Answer::kDenied);
  EXPECT_TRUE(after.classes().empty());
}

TEST_F(Series, NotifyMunmapAllowsGuestMemoryBelowTheStubOnly) {
  auto r = run(profile("notify-munmap"),
               "stub munmap(0x200000000, 4096)\n"             // below the stub: allowed
               "stub munmap(0, 0)\n"                          // empty
               "stub munmap(0x7fffff000000, 0x1000)\n"        // above the stub
               "stub munmap(0xfffffffffffff000, 0x2000)\n");  // wraps
  EXPECT_EQ(r.at(0).answer, Answer::kContinued);
  EXPECT_EQ(r.at(0).ret, 0);
  for (size_t i = 1; i < 4; i++) EXPECT_EQ(r.at(i).answer, Answer::kDenied) << i;
}

TEST_F(Series, AStallIsReportedWithoutTheWatchdogAndKilledWithIt) {
  const char* stall = "stub futex(&scratch, 0, 0, 0)\n";  // FUTEX_WAIT, forever
  auto before = run(profile("notify-munmap"), stall);
  EXPECT_EQ(before.at(0).kind, Observed::kBlocked);
  EXPECT_TRUE(before.found(finding::kStubStall));
  auto after = run(profile("watchdog"), stall);
  EXPECT_EQ(after.at(0).kind, Observed::kWatchdog);
  EXPECT_TRUE(after.classes().empty());
}

TEST_F(Series, ASpinningStubIsAStallTooWhereverItSpins) {
  for (const char* spin : {"outside spin\n", "at(BELOW+16) spin\n", "t2 stub spin\n"}) {
    auto before = run(profile("listener"), spin);
    EXPECT_EQ(before.at(0).kind, Observed::kBlocked) << spin;
    EXPECT_TRUE(before.found(finding::kStubStall)) << spin;
    auto after = run(profile("hardened"), spin);
    EXPECT_EQ(after.at(0).kind, Observed::kWatchdog) << spin;
    EXPECT_TRUE(after.classes().empty()) << spin;
  }
}

TEST_F(Series, HardenedKillsCloseOfItsOwnFdsAndAllowsTheRest) {
  auto r = run(profile("hardened"), "stub close(5)\nstub close(LISTENER)\n");
  EXPECT_EQ(r.at(0).kind, Observed::kReturned);
  EXPECT_EQ(r.at(0).ret, -EBADF);
  EXPECT_EQ(r.at(1).kind, Observed::kKilled);
  EXPECT_TRUE(r.classes().empty());
}

TEST_F(Series, HardenedAllowsOnlyTheStubsTwoInstructions) {
  // SIGSYS and back: the handler returns through the restorer's rt_sigreturn,
  // the one other address the filter allows. Then the edge below the page.
  auto r = run(profile("hardened"),
               "outside getpid()\noutside getpid()\nat(STUB-2) getpid()\nstub getpid()\n");
  EXPECT_EQ(r.at(0).kind, Observed::kTrapped);
  EXPECT_EQ(r.at(1).kind, Observed::kTrapped);
  EXPECT_EQ(r.at(2).kind, Observed::kTrapped) << "listener judges this as the stub page's";
  EXPECT_EQ(r.at(3).kind, Observed::kKilled);
  auto sigreturn = run(profile("hardened"), "stub rt_sigreturn()\n");
  EXPECT_EQ(sigreturn.at(0).kind, Observed::kKilled) << "rt_sigreturn only from the restorer";
}

TEST(MonitorRules, TheRangeAndAccessRulesAtTheirEdges) {
  MonitorRules all;
  all.answers_mmap = all.validates_mmap = all.validates_munmap = true;
  const uint64_t stub = 0x7e0010000000;
  auto munmap = [&](uint64_t addr, uint64_t len) {
    seccomp_data d{};
    d.arch = AUDIT_ARCH_X86_64;
    d.nr = SYS_munmap;
    d.args[0] = addr;
    d.args[1] = len;
    std::vector<QueuedCall> none;
    int32_t err;
    return decide(all, d, stub, none, &err);
  };
  EXPECT_EQ(munmap(stub - 4096, 4096), Answer::kContinued) << "ends exactly at the stub";
  EXPECT_EQ(munmap(stub - 4096, 4097), Answer::kDenied);
  EXPECT_EQ(munmap(stub, 4096), Answer::kDenied);
  EXPECT_EQ(munmap(4096, 0), Answer::kDenied);
  EXPECT_EQ(munmap(~0ull - 4095, 8192), Answer::kDenied);

  seccomp_data m{};
  m.arch = AUDIT_ARCH_X86_64;
  m.nr = SYS_mmap;
  const uint64_t args[6] = {0x200000000, 4096, 3, 0x32, ~0ull, 0};
  std::copy(std::begin(args), std::end(args), m.args);
  QueuedCall q{SYS_mmap, {}};
  std::copy(std::begin(args), std::end(args), q.args);
  std::vector<QueuedCall> queued = {q};
  int32_t err;
  m.args[5] = 4096;  // another offset
  EXPECT_EQ(decide(all, m, stub, queued, &err), Answer::kDenied);
  EXPECT_EQ(err, EPERM);
  m.args[5] = 0;
  m.arch = AUDIT_ARCH_I386;
  EXPECT_EQ(decide(all, m, stub, queued, &err), Answer::kDenied);
  m.arch = AUDIT_ARCH_X86_64;
  EXPECT_EQ(decide(all, m, stub, queued, &err), Answer::kContinued);
  EXPECT_TRUE(queued.empty()) << "a queued call is used once";
}

}  // namespace
}  // namespace stubfuzz::fuzz

namespace stubfuzz {
namespace {

TEST(SeriesCheck, EveryBuiltinProfileHoldsItsClaimsAndReproducesItsFindings) {
  for (const auto& p : builtin_profiles()) {
    const CheckReport r = run_checks(p);
    EXPECT_TRUE(r.ok()) << p.name;
    for (const auto& row : r.rows) {
      const KnownFinding* f = finding_class(row.name);
      const bool of_kernel = f && f->kernel_specific;
      EXPECT_TRUE(
          row.verdict == Verdict::kPass || row.verdict == Verdict::kFinding ||
          (of_kernel && (row.verdict == Verdict::kPresent || row.verdict == Verdict::kAbsent)))
          << p.name << ": " << row.name << " " << to_string(row.verdict) << " " << row.evidence;
    }
  }
}

// Can fail: a monitor without 3/7 or without 4/7 fails the program probes.
TEST(SeriesCheck, AMonitorMissingARuleFailsTheClaimThatRuleKeeps) {
  Profile no_validation = **find_profile("notify-drain");
  no_validation.monitor.validates_mmap = false;
  Profile no_drain = **find_profile("notify-drain");
  no_drain.monitor.drains = false;
  for (const auto& [p, claim] :
       {std::pair{no_validation, "mmap-validated"}, std::pair{no_drain, "no-monitor-hang"}}) {
    const CheckReport r = run_checks(p);
    EXPECT_FALSE(r.ok());
    bool failed = false;
    for (const auto& row : r.rows) failed |= row.name == claim && row.verdict == Verdict::kFail;
    EXPECT_TRUE(failed) << claim;
  }
}

}  // namespace
}  // namespace stubfuzz

namespace stubfuzz::fuzz {
namespace {

// The seed's argument against self-approval is that ioctl is not allowed.
// With a second thread the stub can try it while its first thread waits in
// a notified mmap the monitor holds; allow ioctl and the oracle sees it work.
TEST_F(Series, SelfApprovalFromTheSecondThreadIsKilledAndWorksOnceIoctlIsAllowed) {
  const char* attack =
      "stub mmap(0, 4096, 1, 0x22, -1, 0)\n"
      "t2 stub ioctl(LISTENER, SECCOMP_IOCTL_NOTIF_SEND, &resp{id=PENDING})\n";
  auto sealed = run(profile("notify-drain"), attack);
  EXPECT_EQ(sealed.at(1).kind, Observed::kKilled);
  EXPECT_NE(sealed.at(1).resolved.args[2], 0u);
  EXPECT_TRUE(sealed.classes().empty());

  Profile hole = profile("notify-drain");
  hole.make_filter = [](const StubLayout& l) {
    auto allow = filter::uml_stub_allowlist();
    allow.erase(std::find(allow.begin(), allow.end(), SYS_mmap));
    allow.push_back(SYS_ioctl);
    return filter::uml_stub_filter(l.stub_start, allow, {SYS_mmap});
  };
  auto open = run(hole, attack);
  EXPECT_EQ(open.at(1).kind, Observed::kReturned);
  EXPECT_EQ(open.at(1).ret, 0) << "NOTIF_SEND of the held notification";
  EXPECT_EQ(open.at(0).answer, Answer::kGone) << "the monitor found it answered";
  EXPECT_GT(open.at(0).ret, 0) << "the mmap went through, approved by the stub itself";
  EXPECT_TRUE(open.found(finding::kListenerIoctl));
  EXPECT_TRUE(open.found(finding::kUnsanctionedMmap));
}

TEST_F(Series, SecondThreadRecordsRunAfterTheFirstWhenNothingIsHeld) {
  auto r = run(profile("listener"),
               "t2 outside getpid()\noutside getpid()\nt2 stub futex(&scratch, 1, 1)\n");
  for (size_t i = 0; i < 3; i++) EXPECT_NE(r.at(i).kind, Observed::kNotRun) << i;
  EXPECT_EQ(r.at(0).kind, Observed::kTrapped) << "TSYNC put the filter on thread 2";
  EXPECT_EQ(r.at(2).kind, Observed::kReturned);
}

}  // namespace
}  // namespace stubfuzz::fuzz
