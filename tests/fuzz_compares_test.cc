// The filter's comparisons as the fuzz engines can use them: where the model
// says A came from, the input bytes that decide it and what they must become
// (fuzz/input_compares.h), and the dictionary derived from the filter under
// test (fuzz/dictionary.h).
#include <gtest/gtest.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>

#include "campaign/campaign.h"
#include "filter/asm.h"
#include "filter/field_compares.h"
#include "filter/uml_filter.h"
#include "fuzz/dictionary.h"
#include "fuzz/input_compares.h"
#include "fuzz/program.h"
#include "profile/profile.h"

namespace stubfuzz::fuzz {
namespace {

filter::Program assemble(std::string_view text) {
  auto p = filter::assemble(text);
  EXPECT_TRUE(p.ok()) << p.error().message;
  return p.ok() ? *p : filter::Program{};
}

// From the stub page, ioctl with args[1] == SECCOMP_IOCTL_NOTIF_SEND, lseek
// with args[2]'s upper half == 0x7b3c0de1, flock with bit 0x400000 of args[1],
// fadvise64 with (args[3] & 0xff00) == 0x3700, getpriority with args[1] in
// [0x3000, 0x30ff].
constexpr std::string_view kHoles = R"(
  ld [arch]
  jeq #AUDIT_ARCH_X86_64, +1
  ret #KILL_PROCESS
  ld [nr]
  jeq #ioctl, ioctl
  jeq #lseek, lseek
  jeq #flock, flock
  jeq #fadvise64, fadvise
  jeq #getpriority, prio
  ret #KILL_PROCESS
ioctl:
  ld [args[1]]
  jeq #0xc0182101, allow, kill
lseek:
  ld [args_hi[2]]
  jeq #0x7b3c0de1, allow, kill
flock:
  ld [args[1]]
  jset #0x400000, allow, kill
fadvise:
  ld [args[3]]
  and #0xff00
  jeq #0x3700, allow, kill
prio:
  ld [args[1]]
  jge #0x3000, +0, kill
  jgt #0x30ff, kill, allow
kill:
  ret #KILL_PROCESS
allow:
  ret #ALLOW
)";

// What the filter sees for a record from the stub page (the filter above
// does not look at the address).
seccomp_data data_of(const Record& r) {
  const stub_record s = resolve(r, StubLayout{});
  std::array<uint64_t, 6> args{};
  for (int i = 0; i < 6; i++) args[i] = r.i386 ? static_cast<uint32_t>(s.args[i]) : s.args[i];
  return filter::make_seccomp_data(static_cast<int>(r.nr),
                                   r.i386 ? AUDIT_ARCH_I386 : AUDIT_ARCH_X86_64,
                                   StubLayout{}.stub_start + 3, args);
}

std::vector<uint8_t> bytes_of(const Program& p) { return encode(p); }

const filter::Comparison* at_pc(const filter::Evaluation& ev, uint16_t pc) {
  for (const auto& c : ev.comparisons)
    if (c.pc == pc) return &c;
  return nullptr;
}

TEST(ModelOrigin, ComparisonsNameTheArgumentHalfAndTheMask) {
  const auto prog = assemble(kHoles);
  Record r;
  r.nr = SYS_fadvise64;
  r.args[3] = {ArgKind::kLiteral, 0x1234};
  auto ev = filter::evaluate(prog, data_of(r));
  const auto* c = at_pc(ev, 18);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->op, BPF_JEQ);
  EXPECT_EQ(c->origin.field, filter::arg_field(3, false));
  EXPECT_EQ(c->origin.mask, 0xff00u);
  EXPECT_EQ(c->value, 0x1200u);
  r.nr = SYS_lseek;
  ev = filter::evaluate(prog, data_of(r));
  ASSERT_NE(at_pc(ev, 13), nullptr);
  EXPECT_EQ(at_pc(ev, 13)->origin.field, filter::arg_field(2, true));
  EXPECT_EQ(at_pc(ev, 4)->origin.field, filter::kFieldNr);
}

TEST(InputCompares, JeqOnANarrowLiteralAsksForTheWholeArgumentInTheProgramsEncoding) {
  const auto prog = assemble(kHoles);
  Program p;
  Record r;
  r.nr = SYS_ioctl;
  r.args[0] = {ArgKind::kListener, 0};
  r.args[1] = {ArgKind::kLiteral, 5};  // one byte wide
  p.records = {r};
  const auto input = bytes_of(p);
  std::vector<RecordSpan> spans;
  ASSERT_EQ(decode(input, &spans), p);
  const auto ev = filter::evaluate(prog, data_of(r));
  const auto* c = at_pc(ev, 11);
  ASSERT_NE(c, nullptr);
  ASSERT_FALSE(c->taken);
  const auto ics = input_compares(input, spans[0], r, data_of(r), *c);
  ASSERT_EQ(ics.size(), 1u);
  EXPECT_EQ(ics[0].offset, spans[0].args[1]);
  // literal, 4 bytes wide, SECCOMP_IOCTL_NOTIF_SEND little-endian
  EXPECT_EQ(ics[0].wanted, (CompareBytes{0x00, 0x02, 0x01, 0x21, 0x18, 0xc0}));
  EXPECT_EQ(ics[0].seen, CompareBytes(std::span(input).subspan(ics[0].offset, 6)));
}

TEST(InputCompares, AWideLiteralAlsoGetsItsValueBytesAsAnInteger) {
  const auto prog = assemble(kHoles);
  Program p;
  Record r;
  r.nr = SYS_lseek;
  r.args[2] = {ArgKind::kLiteral, 0x1111111122222222};
  p.records = {r};
  const auto input = bytes_of(p);
  std::vector<RecordSpan> spans;
  decode(input, &spans);
  const auto ev = filter::evaluate(prog, data_of(r));
  const auto ics = input_compares(input, spans[0], r, data_of(r), *at_pc(ev, 13));
  ASSERT_EQ(ics.size(), 2u);
  // The 8 value bytes alone, as libFuzzer's and AFL++'s 8-byte compares take them...
  EXPECT_EQ(ics[0].offset, spans[0].args[2] + 2);
  EXPECT_EQ(ics[0].wanted, (CompareBytes{0x22, 0x22, 0x22, 0x22, 0xe1, 0x0d, 0x3c, 0x7b}));
  // ...and kind, width and value.
  EXPECT_EQ(ics[1].offset, spans[0].args[2]);
  EXPECT_EQ(ics[1].wanted.size(), 10u);
}

TEST(InputCompares, JsetAndJgtAskForTheOtherSide) {
  const auto prog = assemble(kHoles);
  Record r;
  r.nr = SYS_flock;
  r.args[1] = {ArgKind::kLiteral, 0x11223344};
  Program p{{r}};
  auto input = bytes_of(p);
  std::vector<RecordSpan> spans;
  decode(input, &spans);
  auto ev = filter::evaluate(prog, data_of(r));
  auto ics = input_compares(input, spans[0], r, data_of(r), *at_pc(ev, 15));
  ASSERT_FALSE(ics.empty());
  EXPECT_EQ(ics[0].wanted, (CompareBytes{0x44, 0x33, 0x62, 0x11}));  // bit 22 set

  r.nr = SYS_getpriority;
  r.args[1] = {ArgKind::kLiteral, 0x3100};  // passes JGE, fails JGT
  p = Program{{r}};
  input = bytes_of(p);
  decode(input, &spans);
  ev = filter::evaluate(prog, data_of(r));
  const auto* jgt = at_pc(ev, 21);
  ASSERT_NE(jgt, nullptr);
  ASSERT_TRUE(jgt->taken);
  ics = input_compares(input, spans[0], r, data_of(r), *jgt);
  ASSERT_FALSE(ics.empty());
  EXPECT_EQ(ics.back().wanted, (CompareBytes{0x00, 0x01, 0xff, 0x30}));  // 0x30ff
}

// The property the engines rely on: writing `wanted` over `seen` takes the
// comparison's other side, for every comparison on nr, arch or an argument
// of random programs.
TEST(InputCompares, EveryReplacementTakesTheOtherSide) {
  const auto prog = assemble(kHoles);
  const uint32_t nrs[] = {SYS_ioctl, SYS_lseek, SYS_flock, SYS_fadvise64, SYS_getpriority, 1};
  std::mt19937_64 rng(15);
  size_t checked = 0;
  for (int n = 0; n < 3000; n++) {
    std::vector<uint8_t> input(rng() % 120 + 4);
    for (auto& b : input) b = static_cast<uint8_t>(rng());
    input[0] &= 0x0f;                                 // no spin, first thread
    input[1] = static_cast<uint8_t>(nrs[rng() % 6]);  // the stub page has no offset:
    input[2] = 0;                                     // bytes 1-2 are the number
    std::vector<RecordSpan> spans;
    const Program p = decode(input, &spans);
    ASSERT_FALSE(p.records.empty());
    const Record& r = p.records[0];
    const auto ev = filter::evaluate(prog, data_of(r));
    for (const auto& c : ev.comparisons) {
      for (const auto& ic : input_compares(input, spans[0], r, data_of(r), c)) {
        ASSERT_EQ(ic.seen.size(), ic.wanted.size());
        ASSERT_TRUE(std::equal(ic.seen.begin(), ic.seen.end(),
                               input.begin() + static_cast<long>(ic.offset)));
        auto changed = input;
        std::copy(ic.wanted.begin(), ic.wanted.end(),
                  changed.begin() + static_cast<long>(ic.offset));
        std::vector<RecordSpan> spans2;
        const Program q = decode(changed, &spans2);
        const auto ev2 = filter::evaluate(prog, data_of(q.records[0]));
        const auto* c2 = at_pc(ev2, c.pc);
        ASSERT_NE(c2, nullptr) << "pc " << c.pc << " no longer reached";
        EXPECT_NE(c2->taken, c.taken) << "pc " << c.pc << " input " << n;
        checked++;
      }
    }
  }
  EXPECT_GT(checked, 1000u);
}

bool has(const std::vector<DictEntry>& d, const std::string& bytes) {
  return std::any_of(d.begin(), d.end(), [&](const DictEntry& e) { return e.bytes == bytes; });
}

TEST(FilterDictionary, HoldsTheFiltersConstantsInTheProgramEncoding) {
  const auto d = filter_dictionary(assemble(kHoles));
  using namespace std::string_literals;
  EXPECT_TRUE(has(d, "\x10\x00"s));                  // ioctl's number, u16
  EXPECT_TRUE(has(d, "ioctl("s));                    // and in the text form
  EXPECT_TRUE(has(d, "\x00\x02\x01\x21\x18\xc0"s));  // args[1] == NOTIF_SEND, literal
  EXPECT_TRUE(has(d, "\x01\x21\x18\xc0"s));          // its 4 bytes alone
  EXPECT_TRUE(has(d, "0xc0182101"s));
  EXPECT_TRUE(has(d, "\x00\x03\x00\x00\x00\x00\xe1\x0d\x3c\x7b"s));  // an upper half
  EXPECT_TRUE(has(d, "\x00\x01\x00\x37"s));                          // the masked equality
  EXPECT_TRUE(has(d, "\x00\x01\x00\x30"s));                          // JGE's bound
  EXPECT_TRUE(has(d, "\x00\x01\x00\x31"s));                          // one past JGT's
  EXPECT_TRUE(has(d, "\x00\x02\x00\x00\x40\x00"s));                  // JSET's bit
  EXPECT_FALSE(has(d, "\x3e\x00\x00\xc0"s));                         // arch is a bit of the head
}

TEST(FilterDictionary, UmlFilterGivesItsAllowlistAndNoArgument) {
  const auto d = filter_dictionary(filter::uml_stub_filter(StubLayout{}.stub_start));
  using namespace std::string_literals;
  EXPECT_TRUE(has(d, "\xca\x00"s));   // futex
  EXPECT_TRUE(has(d, "\x0f\x00"s));   // rt_sigreturn
  EXPECT_FALSE(has(d, "\x10\x00"s));  // ioctl is not in this filter
  for (const auto& e : d) EXPECT_EQ(e.name.find("args"), std::string::npos) << e.name;
}

TEST(FilterDictionary, ComparisonsOnComputedValuesAreLeftOut) {
  const auto prog = assemble(R"(
    ld [args[0]]
    add #1
    jeq #0x1234, +0, +1
    ret #ALLOW
    ret #KILL_PROCESS
  )");
  EXPECT_TRUE(filter::field_compares(prog).empty());
  EXPECT_TRUE(filter_dictionary(prog).empty());
}

TEST(FilterDictionary, PathsThatLoadDifferentWordsLeaveTheJumpOut) {
  const auto prog = assemble(R"(
    ld [nr]
    jeq #1, +0, +1
    ld [args[0]]
    jeq #0x77, +0, +1
    ret #ALLOW
    ret #KILL_PROCESS
  )");
  const auto c = filter::field_compares(prog);
  ASSERT_EQ(c.size(), 1u);  // the second jeq sees nr or args[0]
  EXPECT_EQ(c[0].pc, 1);
}

TEST(CampaignDictionary, IsWrittenFromTheFilterUnderTestAfterTheBaseTokens) {
  const auto dir = std::filesystem::temp_directory_path() / "stubfuzz-dict-test";
  std::filesystem::create_directories(dir);
  {
    std::ofstream(dir / "hole.asm") << kHoles;
    std::ofstream(dir / "base.dict") << "t_stub=\"stub \"\n";
  }
  campaign::CampaignOptions o;
  o.filter = (dir / "hole.asm").string();
  o.claims = "listener";
  o.dict = (dir / "base.dict").string();
  auto path = campaign::campaign_dictionary(o, dir.string());
  ASSERT_TRUE(path.ok()) << path.error().message;
  std::ifstream in(*path);
  const std::string text((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(text.rfind("t_stub=\"stub \"\n", 0), 0u);
  EXPECT_NE(text.find("\"\\x00\\x02\\x01\\x21\\x18\\xc0\""), std::string::npos) << text;

  o.filter.clear();
  o.profile = "listener";
  path = campaign::campaign_dictionary(o, dir.string());
  ASSERT_TRUE(path.ok());
  std::ifstream in2(*path);
  const std::string text2((std::istreambuf_iterator<char>(in2)), {});
  EXPECT_EQ(text2.find("\\x01\\x21\\x18\\xc0"), std::string::npos);  // not the listener filter's
  EXPECT_NE(text2.find("\"\\xca\\x00\""), std::string::npos);        // futex is
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace stubfuzz::fuzz
