// The text form: round trips over the built-in and libseccomp programs,
// symbolic names, and one-line errors with file and line.
#include <gtest/gtest.h>
#include <linux/audit.h>
#include <unistd.h>

#include <fstream>

#include "filter/asm.h"
#include "filter/filter_file.h"
#include "filter/syscall_names.h"
#include "filter/uml_filter.h"
#include "filter/validate.h"
#include "filter_libseccomp.h"

namespace stubfuzz::filter {
namespace {

constexpr uint64_t kStub = 0x7e0010000000;

std::vector<std::pair<std::string, Program>> corpus() {
  std::vector<std::pair<std::string, Program>> out;
  out.emplace_back("uml", uml_stub_filter(kStub));
  for (auto& f : testing::libseccomp_filters()) out.emplace_back(f.name, f.prog);
  return out;
}

TEST(FilterText, EveryAcceptedProgramRoundTripsThroughText) {
  for (const auto& [name, prog] : corpus()) {
    ASSERT_FALSE(prog.empty()) << name;
    ASSERT_FALSE(check_program(prog)) << name;
    const std::string text = disassemble(prog, {.stub_start = kStub});
    auto back = assemble(text, {.file = name, .stub_start = kStub});
    ASSERT_TRUE(back.ok()) << name << ": " << back.error().message << "\n" << text;
    EXPECT_TRUE(same_program(*back, prog)) << name << "\n" << text;
    EXPECT_EQ(disassemble(*back, {.stub_start = kStub}), text) << name;
  }
}

TEST(FilterText, RejectedProgramsRoundTripThroughRaw) {
  const Program p = {{0xffff, 1, 2, 3},
                     {BPF_JMP | BPF_JEQ | BPF_K, 200, 7, 9},
                     {BPF_JMP | BPF_JA, 0, 0, 1000},
                     {BPF_LD | BPF_H | BPF_ABS, 0, 0, 4}};
  auto back = assemble(disassemble(p));
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_TRUE(same_program(*back, p));
}

TEST(FilterText, UmlFilterPrintsSymbolicNames) {
  const std::string text = disassemble(uml_stub_filter(kStub), {.stub_start = kStub});
  for (const char* want : {"ld [ip_hi]", "jeq #STUB_HI", "ld [ip]", "jeq #STUB_LO", "ret #TRAP",
                           "jeq #AUDIT_ARCH_X86_64", "ld [nr]", "jeq #futex", "jeq #rt_sigreturn",
                           "ret #KILL_PROCESS", "ret #ALLOW"})
    EXPECT_NE(text.find(want), std::string::npos) << want << "\n" << text;
}

TEST(FilterText, I386SyscallsPrintWithTheirArchAfterAnArchCheck) {
  auto p = assemble(R"(
    ld [arch]
    jeq #AUDIT_ARCH_I386, i386, +0
    ret #TRAP
  i386:
    ld [nr]
    jeq #i386.execve, kill    ; 11 on i386, munmap on x86_64
    ret #ERRNO(1)
  kill: ret #KILL_PROCESS
  )");
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ((*p)[4].k, 11u);
  EXPECT_NE(disassemble(*p).find("jeq #i386.execve"), std::string::npos) << disassemble(*p);
}

TEST(FilterText, EverySyscallNameMapsBackToItsNumber) {
  for (Arch a : {Arch::kX86_64, Arch::kI386}) {
    ASSERT_GT(syscalls(a).size(), 300u);
    for (const Syscall& s : syscalls(a)) {
      EXPECT_EQ(syscall_name(a, s.nr), s.name);
      EXPECT_EQ(syscall_number(a, s.name), s.nr) << arch_name(a) << " " << s.name;
    }
  }
  EXPECT_EQ(syscall_number(Arch::kI386, "execve"), 11);
  EXPECT_EQ(syscall_name(Arch::kX86_64, 11), "munmap");
}

TEST(FilterText, ConstantsByName) {
  auto p = assemble(
      "ld [args_hi[5]]\n ld [args[0]]\n ret #ERRNO(13)\n ret #TRACE(7)\n ret #USER_NOTIF\n"
      "ret #LOG\n ret #KILL_THREAD\n jeq #x86_64.futex, +0\n ld #STUB_PAGE\n ld #-1\n",
      {.stub_start = kStub + 0x123});
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ((*p)[0].k, 60u);
  EXPECT_EQ((*p)[1].k, 16u);
  EXPECT_EQ((*p)[2].k, SECCOMP_RET_ERRNO | 13);
  EXPECT_EQ((*p)[3].k, SECCOMP_RET_TRACE | 7);
  EXPECT_EQ((*p)[4].k, SECCOMP_RET_USER_NOTIF);
  EXPECT_EQ((*p)[5].k, SECCOMP_RET_LOG);
  EXPECT_EQ((*p)[6].k, SECCOMP_RET_KILL_THREAD);
  EXPECT_EQ((*p)[7].k, 202u);
  EXPECT_EQ((*p)[8].k, 0x10000000u);
  EXPECT_EQ((*p)[9].k, 0xffffffffu);
}

TEST(FilterText, ErrorsAreOneLineWithFileAndLine) {
  struct Case {
    const char* text;
    const char* want;
  };
  const Case cases[] = {
      {"ret #ALLOW\nfrob #1\n", "f.asm:2: unknown mnemonic 'frob'"},
      {"jeq #1, nowhere\nret #ALLOW\n", "f.asm:1: undefined label 'nowhere'"},
      {"\n\nld [bogus]\n", "f.asm:3: unknown seccomp_data field 'bogus'"},
      {"ret #NOPE\n", "f.asm:1: unknown constant 'NOPE'"},
      {"ld #STUB_HI\n", "f.asm:1: STUB_HI used but no stub address given"},
      {"a: ret #ALLOW\na: ret #ALLOW\n", "f.asm:2: label 'a' defined twice"},
      {"ret #ALLOW, #1\n", "f.asm:1: ret: expected 1 operand(s), got 2"},
  };
  for (const Case& c : cases) {
    auto p = assemble(c.text, {.file = "f.asm"});
    ASSERT_FALSE(p.ok()) << c.text;
    EXPECT_EQ(p.error().message, c.want);
    EXPECT_EQ(p.error().message.find('\n'), std::string::npos);
  }
  std::string far = "jeq #1, far\n";
  for (int i = 0; i < 300; i++) far += "ret #ALLOW\n";
  far += "far: ret #TRAP\n";
  auto p = assemble(far, {.file = "f.asm"});
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().message, "f.asm:1: jump too far to 'far' (300 > 255)");
  std::string lng;
  for (int i = 0; i < 4097; i++) lng += "ret #ALLOW\n";
  p = assemble(lng, {.file = "f.asm"});
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().message, "f.asm:4097: too long: more than 4096 instructions");
}

class FilterFiles : public ::testing::Test {
 protected:
  std::string write(const std::string& name, const std::string& bytes) {
    std::string path = dir_ + "/" + name;
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
  }
  void SetUp() override {
    char tmpl[] = "/tmp/stubfuzz-filter-XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  void TearDown() override { std::system(("rm -rf " + dir_).c_str()); }
  std::string dir_;
};

TEST_F(FilterFiles, BinaryAndTextLoadTheSameProgram) {
  const Program p = uml_stub_filter(kStub);
  const std::string bin = write("uml.bpf", to_binary(p));
  const std::string txt = dir_ + "/uml.asm";
  ASSERT_TRUE(write_filter_file(txt, p, FilterFormat::kText, kStub).ok());
  auto a = load_filter_file(bin);
  auto b = load_filter_file(txt, {.stub_start = kStub});
  ASSERT_TRUE(a.ok()) << a.error().message;
  ASSERT_TRUE(b.ok()) << b.error().message;
  EXPECT_TRUE(same_program(*a, p));
  EXPECT_TRUE(same_program(*b, p));
  // Without an extension the content decides.
  auto c = load_filter_file(write("noext", to_binary(p)));
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_TRUE(same_program(*c, p));
}

TEST_F(FilterFiles, MalformedFilesGiveOneErrorLineNamingTheFile) {
  const std::string good = to_binary(uml_stub_filter(kStub));
  Program five_k(5000, {BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ALLOW});
  Program bad_jump(10, {BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ALLOW});
  bad_jump[7] = {BPF_JMP | BPF_JEQ | BPF_K, 5, 0, 1};
  struct Case {
    std::string name, bytes, want;
  };
  const std::vector<Case> cases = {
      {"empty.bpf", "", "empty.bpf: empty file"},
      {"odd.bpf", good.substr(0, 13),
       "odd.bpf: 13 bytes is not a whole number of 8-byte instructions (last one truncated to 5 "
       "bytes)"},
      {"truncated.bpf", good.substr(0, good.size() - 1),
       "truncated.bpf: 151 bytes is not a whole number of 8-byte instructions (last one "
       "truncated to 7 bytes)"},
      {"long.bpf", to_binary(five_k), "long.bpf: too long: 5000 instructions, at most 4096"},
      {"jump.bpf", to_binary(bad_jump),
       "jump.bpf: instruction 7: jump out of range (targets 13, 8 in 10)"},
      {"text.asm", "ld [nr]\nret #ALLOW\nbogus\n", "text.asm:3: unknown mnemonic 'bogus'"},
      {"noret.asm", "ret #ALLOW\nld [nr]\n",
       "noret.asm: instruction 1: last instruction is not a return"},
  };
  for (const Case& c : cases) {
    auto p = load_filter_file(write(c.name, c.bytes));
    ASSERT_FALSE(p.ok()) << c.name;
    EXPECT_EQ(p.error().message, dir_ + "/" + c.want);
  }
  auto missing = load_filter_file(dir_ + "/missing.bpf");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().message, dir_ + "/missing.bpf: open: ENOENT");
}

}  // namespace
}  // namespace stubfuzz::filter
