// fuzzers/feedback.h: the filter's comparisons reach the engines' compare
// hooks with the operands in the input's own bytes. The hooks are the
// engines' (weak in feedback.h); this binary has no engine, so it defines
// them and records what they receive.
#include <gtest/gtest.h>
#include <linux/audit.h>
#include <sys/syscall.h>

#include <cstring>
#include <vector>

#include "../fuzzers/feedback.h"
#include "filter/asm.h"

namespace {

struct Seen {
  size_t n;
  std::vector<uint8_t> a, b;
};
std::vector<Seen> g_seen;

void record(const void* a, const void* b, size_t n) {
  const auto* pa = static_cast<const uint8_t*>(a);
  const auto* pb = static_cast<const uint8_t*>(b);
  g_seen.push_back({n, {pa, pa + n}, {pb, pb + n}});
}

}  // namespace

extern "C" {
void __sanitizer_cov_trace_cmp2(uint16_t a, uint16_t b) { record(&a, &b, 2); }
void __sanitizer_cov_trace_cmp4(uint32_t a, uint32_t b) { record(&a, &b, 4); }
void __sanitizer_cov_trace_cmp8(uint64_t a, uint64_t b) { record(&a, &b, 8); }
void __sanitizer_weak_hook_memcmp(void*, const void* s1, const void* s2, size_t n, int) {
  record(s1, s2, n);
}
}

namespace stubfuzz::fuzz {
namespace {

// What the harness would have judged: one record from the stub page, the
// model's run of `prog` on it.
struct Run {
  Program program;
  std::vector<uint8_t> input;
  std::vector<RecordSpan> spans;
  Execution ex;
  Judgement j;
};

Run run(const filter::Program& prog, const Record& r) {
  Run x;
  x.program.records = {r};
  x.input = encode(x.program);
  decode(x.input, &x.spans);
  Observation o;
  o.kind = Observed::kTrapped;
  o.resolved = resolve(r, StubLayout{});
  x.ex.records = {o};
  RecordVerdict v;
  std::array<uint64_t, 6> args{};
  for (int i = 0; i < 6; i++) args[i] = o.resolved.args[i];
  v.data = filter::make_seccomp_data(static_cast<int>(r.nr), AUDIT_ARCH_X86_64,
                                     StubLayout{}.stub_start + 3, args);
  v.model = filter::evaluate(prog, v.data);
  x.j.records = {v};
  return x;
}

std::vector<Seen> hooks_after(const filter::Program& prog, const Record& r) {
  const Run x = run(prog, r);
  g_seen.clear();
  const auto compares = report_feedback(x.input, x.spans, x.program, x.ex, x.j);
  g_seen.clear();  // the model's own A-against-K compares
  emit_compares(compares);
  return g_seen;
}

filter::Program holes() {
  auto p = filter::assemble(R"(
    ld [nr]
    jeq #ioctl, ioctl
    jeq #flock, flock
    jeq #lseek, lseek
    ret #KILL_PROCESS
  ioctl:
    ld [args[1]]
    jeq #0xc0182101, allow, kill
  flock:
    ld [args[1]]
    jset #0x400000, allow, kill
  lseek:
    ld [args_hi[1]]
    jgt #0x7b3c0de1, allow, kill
  kill:
    ret #KILL_PROCESS
  allow:
    ret #ALLOW
  )");
  EXPECT_TRUE(p.ok()) << p.error().message;
  return *p;
}

bool heard(const std::vector<Seen>& s, size_t n, const std::vector<uint8_t>& a,
           const std::vector<uint8_t>& b) {
  for (const auto& x : s)
    if (x.n == n && x.a == a && x.b == b) return true;
  return false;
}

// Under a sanitizer, its runtime's own (weak) hooks are linked ahead of the
// test's, which then hear nothing: the release build runs these tests.
class CompareHooks : public testing::Test {
 protected:
  void SetUp() override {
    g_seen.clear();
    __sanitizer_cov_trace_cmp4(1, 2);
    const bool ours = !g_seen.empty();
    g_seen.clear();
    if (!ours) GTEST_SKIP() << "the sanitizer runtime's compare hooks are linked, not the test's";
  }
};

TEST_F(CompareHooks, JeqOnAnArgumentsLowerHalfHearsTheEncodedArgument) {
  Record r;
  r.nr = SYS_ioctl;
  r.args[1] = {ArgKind::kLiteral, 0x21};
  const auto s = hooks_after(holes(), r);
  // kind literal, width 1 byte, 0x21 -> kind literal, width 4 bytes, NOTIF_SEND;
  // the `seen` side runs on into the next argument's bytes (literal 0, width 1, 0).
  EXPECT_TRUE(
      heard(s, 6, {0x00, 0x00, 0x21, 0x00, 0x00, 0x00}, {0x00, 0x02, 0x01, 0x21, 0x18, 0xc0}))
      << s.size() << " hooks";
}

TEST_F(CompareHooks, JsetOnAFourByteLiteralHearsAnIntegerCompare) {
  Record r;
  r.nr = SYS_flock;
  r.args[1] = {ArgKind::kLiteral, 0x11223344};
  const auto s = hooks_after(holes(), r);
  EXPECT_TRUE(heard(s, 4, {0x44, 0x33, 0x22, 0x11}, {0x44, 0x33, 0x62, 0x11}));
}

TEST_F(CompareHooks, JgtOnAnUpperHalfHearsTheEightValueBytes) {
  Record r;
  r.nr = SYS_lseek;
  r.args[1] = {ArgKind::kLiteral, 0x0000000100000002};
  const auto s = hooks_after(holes(), r);
  EXPECT_TRUE(heard(s, 8, {0x02, 0, 0, 0, 0x01, 0, 0, 0}, {0x02, 0, 0, 0, 0xe2, 0x0d, 0x3c, 0x7b}));
}

TEST_F(CompareHooks, AJeqOnTheNumberHearsTheU16) {
  Record r;
  r.nr = SYS_getpid;  // 39: the first jeq asks for ioctl (16)
  const auto s = hooks_after(holes(), r);
  EXPECT_TRUE(heard(s, 2, {39, 0}, {16, 0}));
}

}  // namespace
}  // namespace stubfuzz::fuzz
