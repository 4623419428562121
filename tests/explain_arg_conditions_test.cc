// Verdicts that depend on a syscall's arguments: the symbolic pass
// (filter/arg_conditions.h) against the model, explain's conditions as a
// reader sees them, and --verify probing both sides of each condition in
// real stubs. The filters are tests/arg_holes/*.asm, one hole shape each.
#include <gtest/gtest.h>

#include <filesystem>
#include <random>

#include "explain/explain.h"
#include "explain/outcome.h"
#include "explain/verify.h"
#include "filter/arg_conditions.h"
#include "filter/asm.h"
#include "filter/evaluator.h"
#include "filter/filter_file.h"
#include "filter_libseccomp.h"
#include "profile/profile.h"

namespace stubfuzz::explain {
namespace {

using filter::Arch;
using filter::ArgTest;
using filter::Relation;

struct Hole {
  const char* file;
  const char* syscall;
  // What the stub page's cell must say, verbatim.
  const char* text;
};

const Hole kHoles[] = {
    {"ioctl_request", "ioctl",
     "ALLOW if args[1].lo == 0xc0182101 (SECCOMP_IOCTL_NOTIF_SEND), KILL_PROCESS otherwise"},
    {"ioctl_request64", "ioctl", "ALLOW if args[1] == 0x5401 (TCGETS), KILL_PROCESS otherwise"},
    {"close_fd", "close", "ALLOW if args[0].lo >= 0x3, KILL_PROCESS otherwise"},
    {"close_range", "close", "ALLOW if args[0].lo in [0x3, 0x64], KILL_PROCESS otherwise"},
    {"mmap_noexec", "mmap",
     "KILL_PROCESS if args[2].lo has any bit of 0x4 (PROT_EXEC), ALLOW otherwise"},
    {"mmap_flags", "mmap",
     "ALLOW if (args[3].lo & 0x13) == 0x2 (MAP_PRIVATE), KILL_PROCESS otherwise"},
    {"fcntl_two_args", "fcntl",
     "ALLOW if args[0].lo >= 0x3 and args[1].lo == 0x1 (F_GETFD), KILL_PROCESS otherwise"},
    {"ioctl_upper", "ioctl", "ALLOW if args[2] >= 0x800000000000, KILL_PROCESS otherwise"},
};

void PrintTo(const Hole& h, std::ostream* os) { *os << h.file; }

filter::Program load(const std::string& name) {
  const std::string path = std::string(STUBFUZZ_SOURCE_DIR) + "/tests/arg_holes/" + name + ".asm";
  auto p = filter::load_filter_file(path, {.stub_start = StubLayout{}.stub_start});
  EXPECT_TRUE(p.ok()) << p.error().message;
  return p.ok() ? *p : filter::Program{};
}

const Row* find_row(const Explanation& e, Arch arch, const std::string& name) {
  for (const Row& r : e.rows)
    if (r.arch == arch && std::find(r.names.begin(), r.names.end(), name) != r.names.end())
      return &r;
  return nullptr;
}

seccomp_data stub_page_data(const std::string& syscall, const std::array<uint64_t, 6>& args = {}) {
  const Points p{.stub_start = StubLayout{}.stub_start};
  return filter::make_seccomp_data(*filter::syscall_number(Arch::kX86_64, syscall),
                                   filter::audit_arch(Arch::kX86_64),
                                   p.ip(Column::kStubPage, Arch::kX86_64), args);
}

// Values near every constant the filter holds, in either half: where an
// off-by-one in a range or a mask would show.
std::vector<uint32_t> edges(const filter::Program& prog) {
  std::vector<uint32_t> v{0, 1, 0x7fffffff, 0x80000000, 0xffffffff};
  for (const sock_filter& in : prog)
    for (uint32_t d : {0u, 1u, ~0u}) v.push_back(in.k + d);
  return v;
}

// Every case's tests hold exactly where the model takes its path: for
// `rounds` edge and random arguments, one case holds, and its verdict is the
// model's; each case's examples take its own path.
void expect_cases_match_model(const filter::Program& prog, const seccomp_data& base, int rounds) {
  const filter::ArgVerdicts v = filter::arg_verdicts(prog, base);
  ASSERT_TRUE(v.incomplete.empty()) << v.incomplete;
  const bool i386 = base.arch == filter::audit_arch(Arch::kI386);
  const auto edge = edges(prog);
  std::mt19937_64 rng(42);
  for (int i = 0; i < rounds; i++) {
    std::array<uint64_t, 6> args;
    for (auto& a : args) {
      const uint64_t lo = rng() % 2 ? edge[rng() % edge.size()] : static_cast<uint32_t>(rng());
      const uint64_t hi = rng() % 2 ? edge[rng() % edge.size()] : static_cast<uint32_t>(rng());
      a = i386 ? lo : hi << 32 | lo;
    }
    seccomp_data d = base;
    std::copy(args.begin(), args.end(), d.args);
    size_t holding = 0;
    uint32_t ret = 0;
    for (const auto& c : v.cases) {
      const bool all = std::all_of(c.tests.begin(), c.tests.end(), [&](const ArgTest& t) {
        return t.holds(static_cast<uint32_t>(args[t.arg()] >> (t.upper() ? 32 : 0)));
      });
      if (all) holding++, ret = c.ret;
    }
    ASSERT_EQ(holding, 1u) << "nr " << base.nr << " args[0..2] " << args[0] << " " << args[1] << " "
                           << args[2];
    ASSERT_EQ(ret, filter::evaluate(prog, d).ret) << "nr " << base.nr;
  }
  for (const auto& c : v.cases)
    for (const auto& args : {c.lowest, c.highest}) {
      seccomp_data d = base;
      std::copy(args.begin(), args.end(), d.args);
      EXPECT_EQ(filter::evaluate(prog, d).ret, c.ret) << "nr " << base.nr;
    }
}

class ArgHole : public testing::TestWithParam<Hole> {};

TEST_P(ArgHole, CasesPartitionTheArgumentsAsTheModelDoes) {
  const filter::Program prog = load(GetParam().file);
  const seccomp_data base = stub_page_data(GetParam().syscall);
  EXPECT_TRUE(filter::arg_verdicts(prog, base).depends_on_args());
  expect_cases_match_model(prog, base, 20000);
}

// libseccomp's own code for every comparison it has, 64-bit constants split
// across both halves, and i386's socketcall: every syscall of both arches.
TEST(ArgConditions, LibseccompFiltersCasesMatchTheModel) {
  for (const auto& f : filter::testing::libseccomp_filters()) {
    SCOPED_TRACE(f.name);
    ASSERT_FALSE(f.prog.empty());
    size_t dependent = 0;
    for (Arch arch : {Arch::kX86_64, Arch::kI386})
      for (const filter::Syscall& s : filter::syscalls(arch)) {
        const auto base = filter::make_seccomp_data(s.nr, filter::audit_arch(arch), 0x401002);
        const bool depends = filter::arg_verdicts(f.prog, base).depends_on_args();
        dependent += depends;
        expect_cases_match_model(f.prog, base, depends ? 3000 : 20);
      }
    // Not ioctl's: libseccomp refuses two comparisons of one argument in a
    // rule, so that rule is not in the program.
    if (f.name == "argument_comparisons") EXPECT_EQ(dependent, 6u);
    if (f.name == "wide_arguments") EXPECT_EQ(dependent, 5u);
  }
}

TEST_P(ArgHole, ExplainNamesTheAllowedValueOrRange) {
  const Explanation e = explain(load(GetParam().file), {.stub_start = StubLayout{}.stub_start});
  const Row* row = find_row(e, Arch::kX86_64, GetParam().syscall);
  ASSERT_TRUE(row);
  EXPECT_EQ(row->names.size(), 1u);  // never folded with the rest
  ASSERT_TRUE(row->conditions[static_cast<size_t>(Column::kStubPage)]);
  EXPECT_EQ(to_text(Arch::kX86_64, GetParam().syscall, *row->conditions[0]), GetParam().text);
  // From outside the page the arguments are never read.
  EXPECT_FALSE(row->conditions[static_cast<size_t>(Column::kOutside)]);
  EXPECT_NE(to_text(e).find(GetParam().text), std::string::npos) << to_text(e);
  const nlohmann::json j = to_json(e);
  bool found = false;
  for (const auto& r : j["rows"])
    if (r["depends_on_args"] == true && r["syscalls"][0] == GetParam().syscall) {
      EXPECT_EQ(r["conditions"]["stub_page"]["text"], GetParam().text);
      EXPECT_GE(r["conditions"]["stub_page"]["cases"].size(), 2u);
      found = true;
    }
  EXPECT_TRUE(found) << j.dump(2);
}

// Both sides of each condition, in real stubs: the kernel kills the stub on
// the KILL side and lets the call run (and fail on the closed fd or the
// zero length verify gives it) on the ALLOW side.
TEST_P(ArgHole, VerifyAgreesWithTheKernelOnBothSides) {
  const StubLayout layout;
  auto r = verify(load(GetParam().file), {.layout = layout, .per_row = 1});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(r->agrees()) << to_text(*r);
  bool ran = false, killed = false;
  for (const Cell& c : r->condition_cells) {
    if (c.column != Column::kStubPage) continue;
    EXPECT_EQ(c.name, GetParam().syscall);
    if (c.predicted == "ALLOW") ran = c.observed.starts_with("ERRNO(");
    if (c.predicted == "KILL") killed = c.observed == "KILL";
  }
  EXPECT_TRUE(ran && killed) << to_text(*r);
  for (const Cell& c : r->not_run) EXPECT_NE(c.name, GetParam().syscall) << to_text(*r);
}

INSTANTIATE_TEST_SUITE_P(Filters, ArgHole, testing::ValuesIn(kHoles),
                         [](const auto& info) { return std::string(info.param.file); });

// The bug-finding benchmark's filters (bench/arg_holes, scripts/arg-hole-
// trials): explain names each hole's value or range, and --verify runs both
// sides of every condition in real stubs, with the kernel agreeing.
TEST(ArgHoleBenchmark, ExplainNamesEveryHoleAndVerifyRunsBothSides) {
  const std::string dir = std::string(STUBFUZZ_SOURCE_DIR) + "/bench/arg_holes";
  int filters = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() != ".asm") continue;
    filters++;
    SCOPED_TRACE(e.path().filename().string());
    auto prog =
        filter::load_filter_file(e.path().string(), {.stub_start = StubLayout{}.stub_start});
    ASSERT_TRUE(prog.ok()) << prog.error().message;
    auto r = verify(*prog, {.layout = StubLayout{}, .per_row = 1});
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_TRUE(r->agrees()) << to_text(*r);
    EXPECT_TRUE(r->not_run.empty()) << to_text(*r);
    bool allowed = false;
    for (const Cell& c : r->condition_cells)
      allowed = allowed || (c.column == Column::kStubPage && c.condition.starts_with("ALLOW if"));
    EXPECT_TRUE(allowed) << "no ALLOW condition named: " << to_text(*r);
  }
  EXPECT_GE(filters, 8);
}

TEST(ArgConditions, WordSolverMeetsMasksAndRangesTogether) {
  // Bits 8-15 equal 0x12, above 0x5000, and not 0x11200 itself.
  std::vector<ArgTest> t{{2, 0xff00, Relation::kEq, 0x1200},
                         {2, 0xffffffff, Relation::kGt, 0x5000},
                         {2, 0xffffffff, Relation::kNe, 0x11200}};
  EXPECT_EQ(filter::solve_word(t, 2, false), 0x11201u);
  EXPECT_EQ(filter::solve_word(t, 2, true), 0xffff12ffu);
  t.push_back({2, 0x3, Relation::kNoneSet, 0});
  t.push_back({2, 0x30, Relation::kAnySet, 0});
  EXPECT_EQ(filter::solve_word(t, 2, false), 0x11210u);
  t.push_back({2, 0xffffffff, Relation::kLt, 0x11210});
  EXPECT_EQ(filter::solve_word(t, 2, false), std::nullopt);
}

// libseccomp compares a 64-bit argument one half at a time: explain reads
// the halves back as one 64-bit value or range.
TEST(ArgConditions, LibseccompWideComparesReadAsOneArgument) {
  const std::pair<const char*, const char*> want[] = {
      {"munmap", "ERRNO(21) if args[0] == 0x123456789abcdef0, ERRNO(2) otherwise"},
      {"madvise", "ERRNO(22) if args[1] <= 0xffffffff, ERRNO(2) otherwise"},
      {"msync", "ERRNO(24) if args[0] >= 0x7e0010000000, ERRNO(2) otherwise"},
      {"mlock", "ERRNO(2) if args[1] == 0xffffffff00000001, TRAP otherwise"},
  };
  for (const auto& f : filter::testing::libseccomp_filters()) {
    if (f.name != "wide_arguments") continue;
    const Explanation e = explain(f.prog);
    for (const auto& [syscall, text] : want) {
      const Row* row = find_row(e, Arch::kX86_64, syscall);
      ASSERT_TRUE(row && row->conditions[0]) << syscall;
      EXPECT_EQ(to_text(Arch::kX86_64, syscall, *row->conditions[0]), text);
    }
  }
}

TEST(ArgConditions, ArithmeticOnAnArgumentIsReportedNotGuessed) {
  auto prog = filter::assemble(R"(
      ld [nr]
      jeq #close, +0, allow
      ld [args[0]]
      add #1
      jgt #3, allow, kill
    allow: ret #ALLOW
    kill: ret #KILL_PROCESS
  )");
  ASSERT_TRUE(prog.ok()) << prog.error().message;
  const Explanation e = explain(*prog);
  const Row* row = find_row(e, Arch::kX86_64, "close");
  ASSERT_TRUE(row);
  EXPECT_NE(row->args_unknown.find("argument arithmetic"), std::string::npos) << row->args_unknown;
  EXPECT_NE(to_text(e).find("arguments not analysed"), std::string::npos);
}

// int $0x80 has no upper halves: a 64-bit compare on i386 has one case per
// value of the lower half only, and prints as a whole-argument test.
TEST(ArgConditions, I386ArgumentsHaveNoUpperHalf) {
  auto prog = filter::assemble(R"(
      ld [args_hi[1]]
      jeq #0, +0, kill
      ld [args[1]]
      jeq #0x5401, allow, kill
    allow: ret #ALLOW
    kill: ret #KILL_PROCESS
  )");
  ASSERT_TRUE(prog.ok()) << prog.error().message;
  const auto d = filter::make_seccomp_data(*filter::syscall_number(Arch::kI386, "ioctl"),
                                           filter::audit_arch(Arch::kI386), 0x1000);
  const filter::ArgVerdicts v = filter::arg_verdicts(*prog, d);
  ASSERT_EQ(v.cases.size(), 2u);
  EXPECT_EQ(to_text(Arch::kI386, "ioctl", conditions_of(v)),
            "ALLOW if args[1] == 0x5401 (TCGETS), KILL_PROCESS otherwise");
}

// Every rule of libseccomp's filters is ERRNO or TRAP with its own data, so
// each probe's outcome names the case the kernel took.
TEST(ExplainVerify, LibseccompArgumentRulesAgreeWithTheKernelOnBothSides) {
  for (const auto& f : filter::testing::libseccomp_filters()) {
    if (f.name != "argument_comparisons" && f.name != "wide_arguments") continue;
    SCOPED_TRACE(f.name);
    const StubLayout layout;
    auto prefix =
        filter::assemble(filter::testing::kStubLoopPrefix, {.stub_start = layout.stub_start});
    ASSERT_TRUE(prefix.ok()) << prefix.error().message;
    filter::Program prog = *prefix;
    prog.insert(prog.end(), f.prog.begin(), f.prog.end());
    auto r = verify(prog, {.layout = layout, .per_row = 1});
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_TRUE(r->agrees()) << to_text(*r);
    // Each argument rule's syscall, probed from all four columns on at least
    // two cases (the rule's and the default's).
    EXPECT_GE(r->condition_cells.size(), (f.name == "wide_arguments" ? 5u : 6u) * 4 * 2)
        << to_text(*r);
  }
}

// The series' notify profiles route the stub's mmap through USER_NOTIF:
// --verify answers those cells by the profile's own monitor, with nothing
// queued. 4/7 drains and denies (EPERM); 3/7 without 4/7 never reads it.
TEST(ExplainVerify, UserNotifCellsRunThroughTheProfilesMonitor) {
  for (const auto& [name, want] :
       {std::pair{"notify-drain", "ERRNO(1)"}, {"notify-mmap", "HANG"}}) {
    SCOPED_TRACE(name);
    const Profile* p = *find_profile(name);
    const StubLayout layout;
    VerifyOptions o{.layout = layout, .per_row = 1};
    o.seccomp_flags = p->seccomp_flags;
    o.monitor = p->monitor;
    auto r = verify(p->make_filter(layout), o);
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_TRUE(r->agrees()) << to_text(*r);
    EXPECT_GT(r->notified_cells_run, 0u) << to_text(*r);
    const nlohmann::json j = to_json(*r);
    EXPECT_EQ(j["notified_cells_run"], r->notified_cells_run);
    // What the cell of the stub's mmap was predicted (and, agreeing, seen) to do.
    EXPECT_EQ(notified_outcome(p->monitor, stub_page_data("mmap"), layout.stub_start), want);
  }
}

}  // namespace
}  // namespace stubfuzz::explain
