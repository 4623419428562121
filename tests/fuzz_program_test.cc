// Fuzz programs: the binary form, the text form, and the oracle's verdicts on
// real stubs — including verdicts that must break.
#include <gtest/gtest.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <sys/syscall.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <sstream>

#include "filter/uml_filter.h"
#include "fuzz/executor.h"
#include "fuzz/oracle.h"
#include "fuzz/program.h"
#include "fuzz/replay.h"
#include "fuzz/stats.h"
#include "kernel/facts.h"
#include "profile/findings.h"
#include "profile/profile.h"

namespace stubfuzz::fuzz {
namespace {

const Profile& listener() { return **find_profile("listener"); }

Program parse(std::string_view text) {
  auto p = parse_text(text);
  EXPECT_TRUE(p.ok()) << p.error().message;
  return p.ok() ? *p : Program{};
}

TEST(ProgramCodec, AnyBytesDecodeAndBinaryTextBinaryIsStable) {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 2000; i++) {
    std::vector<uint8_t> bytes(rng() % 300);
    for (auto& b : bytes) b = static_cast<uint8_t>(rng());
    const Program p = decode(bytes);
    const auto canonical = encode(p);
    ASSERT_EQ(decode(canonical), p);
    auto back = parse_text(to_text(p));
    ASSERT_TRUE(back.ok()) << back.error().message << "\n" << to_text(p);
    ASSERT_EQ(encode(*back), canonical) << to_text(p);
  }
}

TEST(ProgramText, ReadsTheSymbolsAPersonWrites) {
  const Program p = parse(
      "stub ioctl(LISTENER, SECCOMP_IOCTL_NOTIF_SEND, &scratch+64)  # self-approval\n"
      "at(STUB-2) i386 syscall_91(STUB+0x10, -1)\n");
  ASSERT_EQ(p.records.size(), 2u);
  EXPECT_EQ(p.records[0].nr, SYS_ioctl);
  EXPECT_EQ(p.records[0].args[0].kind, ArgKind::kListener);
  EXPECT_EQ(p.records[0].args[2].kind, ArgKind::kScratch);
  EXPECT_EQ(p.records[0].args[2].value, 64u);
  EXPECT_TRUE(p.records[1].i386);
  EXPECT_EQ(p.records[1].site.kind, SiteKind::kBelowEdge);
  EXPECT_EQ(p.records[1].args[1].value, ~0ull);
  EXPECT_EQ(to_text(p.records[1]), "at(STUB-2) i386 munmap(STUB+16, 0xffffffffffffffff)")
      << "i386 91 is munmap: names come from libseccomp per arch";
}

TEST(ProgramText, MalformedLinesAreOneErrorNamingTheLine) {
  for (const char* bad :
       {"stub nosuchcall()", "inside close(1)", "stub close(1", "stub close(BOGUS)",
        "at(BELOW+5000) getpid()", "stub close(1,2,3,4,5,6,7)"}) {
    auto p = parse_text(std::string("stub getpid()\n") + bad + "\n");
    ASSERT_FALSE(p.ok()) << bad;
    EXPECT_EQ(p.error().message.rfind("line 2: ", 0), 0u) << p.error().message;
    EXPECT_EQ(p.error().message.find('\n'), std::string::npos);
  }
}

TEST(Oracle, ListenerProgramsHoldEveryClaimAndTheModelAgreesWithTheKernel) {
  Executor ex(listener());
  const Program p = parse(
      "outside ioctl(LISTENER, SECCOMP_IOCTL_NOTIF_RECV, &scratch)\n"
      "at(ALIAS+8) close(LISTENER)\n"
      "at(BELOW+100) getpid()\n"
      "stub mmap(0, 4096, 3, 34, -1, 0)\n"
      "stub futex(&scratch, 1, 1)\n"
      "stub ioctl(LISTENER, SECCOMP_IOCTL_NOTIF_SEND, &scratch)\n");
  auto r = replay(ex, listener(), p);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_FALSE(r->judgement.violated()) << describe(p, r->execution, r->judgement);
  for (const auto& v : r->judgement.records) EXPECT_TRUE(v.agrees);
  EXPECT_EQ(r->execution.records[5].kind, Observed::kKilled);
}

TEST(OracleCanFail, IoctlOnTheAllowlistIsANoListenerIoctlViolation) {
  Profile holed = listener();
  holed.make_filter = [](const StubLayout& l) {
    auto allow = filter::uml_stub_allowlist();
    allow.push_back(SYS_ioctl);
    return filter::uml_stub_filter(l.stub_start, allow);
  };
  Executor ex(holed);
  const Program p = parse("stub ioctl(LISTENER, SECCOMP_IOCTL_NOTIF_ID_VALID, &scratch)\n");
  auto r = replay(ex, holed, p);
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(r->judgement.violated());
  EXPECT_EQ(r->judgement.first_violation()->claim, ClaimId::kNoListenerIoctl);
}

TEST(OracleCanFail, AModelThatDisagreesWithTheKernelIsAModelAgreesViolation) {
  // Judge with a filter that differs from the one the stub runs.
  Executor ex(listener());
  const Program p = parse("outside getpid()\n");
  auto r = ex.run(p);
  ASSERT_TRUE(r.ok());
  StubConfig wrong = ex.config();
  wrong.filter = filter::Builder().ret(SECCOMP_RET_ALLOW).build();
  const Judgement j = judge(listener(), wrong, p, *r);
  ASSERT_TRUE(j.violated());
  EXPECT_EQ(j.first_violation()->claim, ClaimId::kModelAgrees);
}

// The profiles a reproducer names on a "# found-under:" or "# closed-under:"
// line.
std::vector<std::string> profiles_on(const std::string& path, const std::string& tag) {
  std::ifstream in(path);
  std::vector<std::string> names;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("# " + tag + ":", 0) != 0) continue;
    std::istringstream words(line.substr(tag.size() + 3));
    for (std::string w; words >> w;) names.push_back(w);
  }
  return names;
}

// corpus/regressions/ holds every finding ever made: fixed ones must stay
// fixed, known ones must still reproduce as documented, and each attack
// matrix row must be found where it says and closed where it says.
TEST(Regressions, EveryCorpusProgramReplaysAsRecorded) {
  const std::string root = STUBFUZZ_SOURCE_DIR "/corpus/";
  auto files = expand_inputs({root + "regressions", root + "fuzz_stub_syscalls", root + "matrix"});
  ASSERT_TRUE(files.ok()) << files.error().message;
  ASSERT_GE(files->size(), 3u);
  std::map<std::string, std::unique_ptr<Executor>> executors;
  auto replay_under = [&](const std::string& name, const Program& p, bool every_claim) {
    const Profile& profile = **find_profile(name);
    auto& ex = executors[name];
    if (!ex) ex = std::make_unique<Executor>(profile);
    return replay(*ex, profile, p, every_claim);
  };
  for (const auto& f : *files) {
    auto p = load_program(f);
    ASSERT_TRUE(p.ok()) << p.error().message;
    std::string profile_name = profile_named_in(f);
    if (profile_name.empty()) profile_name = "listener";
    ASSERT_TRUE(find_profile(profile_name).ok()) << f;
    auto r = replay_under(profile_name, *p, false);
    ASSERT_TRUE(r.ok()) << f << ": " << r.error().message;
    EXPECT_FALSE(r->judgement.violated()) << f << "\n" << describe(*p, r->execution, r->judgement);
    const std::string name = std::filesystem::path(f).filename().string();
    if (name.rfind("known-", 0) == 0) {
      const std::string id = name.substr(6, name.size() - 6 - 4);
      const auto& findings = (*find_profile(profile_name))->known_findings;
      const auto known = std::find_if(findings.begin(), findings.end(),
                                      [&](const KnownFinding& k) { return k.name() == id; });
      ASSERT_TRUE(known != findings.end()) << name << ": no known finding " << id;
      bool seen = false;
      for (const auto& b : r->judgement.breaches) seen |= b.known && b.class_name() == id;
      // A finding of the kernel shows exactly where the probed facts say.
      const auto& facts = kernel::facts();
      const bool expected = !known->kernel_specific || facts.exempts_uprobe_calls();
      EXPECT_EQ(seen, expected) << f << ": known finding " << id << " under exemptions "
                                << facts.describe_exemptions();
    }
    if (name.rfind("matrix-", 0) == 0) {
      const std::string cls = name.substr(7, name.size() - 7 - 4);
      ASSERT_NE(finding_class(cls), nullptr) << name << ": no class of finding " << cls;
      const auto found = profiles_on(f, "found-under"), closed = profiles_on(f, "closed-under");
      ASSERT_FALSE(found.empty()) << name;
      ASSERT_FALSE(closed.empty()) << name;
      for (const auto& [under, expect] : {std::pair{found, true}, std::pair{closed, false}}) {
        for (const auto& prof : under) {
          ASSERT_TRUE(find_profile(prof).ok()) << name << ": " << prof;
          auto m = replay_under(prof, *p, true);
          ASSERT_TRUE(m.ok()) << f << ": " << m.error().message;
          bool seen = false;
          for (const auto& b : m->judgement.breaches) seen |= b.class_name() == cls;
          EXPECT_EQ(seen, expect) << name << " under " << prof << "\n"
                                  << describe(*p, m->execution, m->judgement);
        }
      }
    }
  }
}

TEST(ReplayInput, EmptyAndRecordlessFilesAreErrorsNamingTheFile) {
  const std::string dir = testing::TempDir();
  const std::string empty = dir + "/empty", comment = dir + "/comment.txt";
  { std::ofstream(empty).flush(); }
  { std::ofstream(comment) << "# nothing\n"; }
  for (const auto& f : {empty, comment, dir + "/missing"}) {
    auto p = load_program(f);
    ASSERT_FALSE(p.ok()) << f;
    EXPECT_EQ(p.error().message.rfind(f, 0), 0u) << p.error().message;
  }
}

}  // namespace
}  // namespace stubfuzz::fuzz

namespace stubfuzz::fuzz {
namespace {

// The safety net sits under every built-in profile's filter: with a filter
// under test that allows everything, the calls that could leave the sandbox
// come back EPERM, and the model (both filters, by the kernel's precedence)
// still agrees with the kernel.
TEST(SafetyNet, UnderAnAllowAllFilterDangerousCallsGetEpermAndTheModelAgrees) {
  Profile allow_all = listener();
  allow_all.make_filter = [](const StubLayout&) {
    return filter::Builder().ret(SECCOMP_RET_ALLOW).build();
  };
  Executor ex(allow_all);
  // Without the i386 ABI, int $0x80 faults before any filter: kill(0, 9)
  // again through the x86-64 ABI from outside stands in for it.
  const Program p =
      parse(std::string("stub kill(0, 9)\n"
                        "outside reboot(0, 0, 0)\n") +
            (kernel::facts().i386_abi ? "outside i386 kill(0, 9)\n" : "outside kill(0, 9)\n") +
            "stub x32 kill(0, 9)\n"
            "outside unshare(0x10000000)\n"
            "stub kill(1, 0)\n"  // pooled stubs share a pid namespace: no signal may leave
            "stub getpid()\n");
  auto r = replay(ex, allow_all, p);
  ASSERT_TRUE(r.ok()) << r.error().message;
  for (size_t i = 0; i < 6; i++) {
    EXPECT_EQ(r->execution.records[i].ret, -EPERM) << to_text(p.records[i]);
    EXPECT_TRUE(r->judgement.records[i].denied_by_net) << i;
  }
  EXPECT_GT(r->execution.records[6].ret, 0) << "getpid runs";
  EXPECT_FALSE(r->judgement.records[6].denied_by_net);
  for (const auto& v : r->judgement.records) EXPECT_TRUE(v.agrees);
}

}  // namespace
}  // namespace stubfuzz::fuzz

namespace stubfuzz::fuzz {
namespace {

// Branch coverage: each conditional jump of the filter has two sides, and a
// record that reaches one counts it, as the engines' features do.
TEST(Stats, BranchSidesAreEachConditionalJumpsTwoOutcomes) {
  const Profile& p = listener();
  Executor ex(p);
  const auto& filter = ex.filter();
  size_t jumps = 0;
  for (const auto& insn : filter)
    jumps += BPF_CLASS(insn.code) == BPF_JMP && BPF_OP(insn.code) != BPF_JA;
  EXPECT_EQ(branch_sides_of(filter), 2 * jumps);
  EXPECT_GT(jumps, 5u);
  Stats s;
  const Program outside = parse("outside getpid()");
  auto r = replay(ex, p, outside);
  ASSERT_TRUE(r.ok()) << r.error().message;
  s.add(outside, r->execution, r->judgement);
  const size_t after_outside = s.branch_sides.size();
  EXPECT_GT(after_outside, 0u);
  const Program stub = parse("stub close(7)");
  auto r2 = replay(ex, p, stub);
  ASSERT_TRUE(r2.ok()) << r2.error().message;
  s.add(stub, r2->execution, r2->judgement);
  EXPECT_GT(s.branch_sides.size(), after_outside) << "the stub page takes other sides";
  EXPECT_LE(s.branch_sides.size(), branch_sides_of(filter));
  auto back = Stats::from_json(s.to_json());
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->branch_sides, s.branch_sides);
}

}  // namespace
}  // namespace stubfuzz::fuzz
