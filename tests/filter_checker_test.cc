// The checker against the kernel's own: each program is installed in a
// forked child (no_new_privs, seccomp(SECCOMP_SET_MODE_FILTER)), which exits
// with the errno; the model must reject exactly what the kernel rejects.
#include <gtest/gtest.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "filter/uml_filter.h"
#include "filter/validate.h"

namespace stubfuzz::filter {
namespace {

constexpr uint32_t kAllow = SECCOMP_RET_ALLOW;

sock_filter S(uint16_t code, uint32_t k) { return {code, 0, 0, k}; }
sock_filter J(uint16_t code, uint32_t k, uint8_t jt, uint8_t jf) { return {code, jt, jf, k}; }
sock_filter Ret(uint32_t k) { return S(BPF_RET | BPF_K, k); }

// 0: the kernel accepted it; otherwise seccomp()'s errno.
int kernel_verdict(const Program& prog) {
  pid_t pid = fork();
  if (pid == 0) {
    sock_fprog fp{static_cast<unsigned short>(prog.size()), const_cast<sock_filter*>(prog.data())};
    if (prog.size() > 0xffff) fp.len = 0;  // cannot be expressed; treated as empty
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) _exit(100);
    long r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fp);
    // Accepted: whatever the filter does to exit_group, the child ends
    // by something other than an errno-sized exit code.
    _exit(r == 0 ? 0 : errno);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 0;
}

struct BadProgram {
  const char* name;
  Program prog;
  Rejection reason;
};

std::vector<BadProgram> bad_programs() {
  Program too_long(BPF_MAXINSNS + 1, Ret(kAllow));
  return {
      {"empty", {}, Rejection::kEmpty},
      {"too_long", too_long, Rejection::kTooLong},
      {"bad_opcode", {S(0xffff, 0), Ret(kAllow)}, Rejection::kBadOpcode},
      {"ret_x", {S(BPF_RET | BPF_X, 0)}, Rejection::kBadOpcode},
      {"misaligned_load", {S(BPF_LD | BPF_W | BPF_ABS, 2), Ret(kAllow)}, Rejection::kBadDataOffset},
      {"load_past_seccomp_data",
       {S(BPF_LD | BPF_W | BPF_ABS, 64), Ret(kAllow)},
       Rejection::kBadDataOffset},
      {"ancillary_load",
       {S(BPF_LD | BPF_W | BPF_ABS, SKF_AD_OFF + SKF_AD_PROTOCOL), Ret(kAllow)},
       Rejection::kBadDataOffset},
      {"unknown_ancillary_load",
       {S(BPF_LD | BPF_W | BPF_ABS, 0xfffffff0), Ret(kAllow)},
       Rejection::kBadPacketLoad},
      {"halfword_load", {S(BPF_LD | BPF_H | BPF_ABS, 0), Ret(kAllow)}, Rejection::kNotForSeccomp},
      {"indirect_load", {S(BPF_LD | BPF_W | BPF_IND, 0), Ret(kAllow)}, Rejection::kNotForSeccomp},
      {"msh_load", {S(BPF_LDX | BPF_B | BPF_MSH, 0), Ret(kAllow)}, Rejection::kNotForSeccomp},
      {"mod", {S(BPF_ALU | BPF_MOD | BPF_K, 3), Ret(kAllow)}, Rejection::kNotForSeccomp},
      {"jump_out_of_range",
       {J(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 1), Ret(kAllow)},
       Rejection::kJumpOutOfRange},
      {"ja_out_of_range", {S(BPF_JMP | BPF_JA, 1), Ret(kAllow)}, Rejection::kJumpOutOfRange},
      {"ja_wraps", {S(BPF_JMP | BPF_JA, 0xffffffff), Ret(kAllow)}, Rejection::kJumpOutOfRange},
      {"no_final_return", {Ret(kAllow), S(BPF_LD | BPF_W | BPF_ABS, 0)}, Rejection::kNoFinalReturn},
      {"div_by_constant_zero",
       {S(BPF_ALU | BPF_DIV | BPF_K, 0), Ret(kAllow)},
       Rejection::kDivisionByZero},
      {"shift_by_32", {S(BPF_ALU | BPF_LSH | BPF_K, 32), Ret(kAllow)}, Rejection::kShiftTooFar},
      {"scratch_index_16", {S(BPF_ST, 16), Ret(kAllow)}, Rejection::kBadScratchIndex},
      {"scratch_load_before_store",
       {S(BPF_LD | BPF_MEM, 3), Ret(kAllow)},
       Rejection::kScratchNotStored},
      {"scratch_stored_on_one_path_only",
       {J(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 1), S(BPF_ST, 1), S(BPF_LD | BPF_MEM, 1), Ret(kAllow)},
       Rejection::kScratchNotStored},
  };
}

TEST(KernelAcceptance, EveryBadProgramIsRejectedByModelAndKernelForItsReason) {
  for (const BadProgram& b : bad_programs()) {
    auto f = check_program(b.prog);
    ASSERT_TRUE(f.has_value()) << b.name;
    EXPECT_EQ(f->reason, b.reason) << b.name << ": " << f->message;
    EXPECT_EQ(kernel_verdict(b.prog), EINVAL) << b.name;
  }
}

TEST(KernelAcceptance, GoodProgramsAreAcceptedByModelAndKernel) {
  const std::vector<Program> good = {
      {Ret(kAllow)},
      uml_stub_filter(0x7e0010000000),
      {S(BPF_LD | BPF_W | BPF_ABS, 60), Ret(kAllow)},
      {S(BPF_LD | BPF_W | BPF_LEN, 0), S(BPF_LDX | BPF_W | BPF_LEN, 0), S(BPF_RET | BPF_A, 0)},
      {S(BPF_ALU | BPF_DIV | BPF_X, 0), S(BPF_ALU | BPF_RSH | BPF_K, 31), Ret(kAllow)},
      {S(BPF_ST, 15), S(BPF_LD | BPF_MEM, 15), S(BPF_STX, 0), S(BPF_LDX | BPF_MEM, 0),
       S(BPF_MISC | BPF_TAX, 0), S(BPF_MISC | BPF_TXA, 0), S(BPF_ALU | BPF_NEG, 0), Ret(kAllow)},
      // Stored on both paths before the join.
      {J(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 2), S(BPF_ST, 1), S(BPF_JMP | BPF_JA, 1), S(BPF_STX, 1),
       S(BPF_LD | BPF_MEM, 1), Ret(kAllow)},
      {S(BPF_JMP | BPF_JA, 0), Ret(kAllow)},
      // Unknown action codes install fine; they kill at run time.
      {Ret(0x00010000)},
      Program(BPF_MAXINSNS, Ret(kAllow)),
  };
  for (size_t i = 0; i < good.size(); i++) {
    auto f = check_program(good[i]);
    EXPECT_FALSE(f.has_value()) << i << ": " << f->message;
    EXPECT_EQ(kernel_verdict(good[i]), 0) << i;
  }
}

TEST(KernelAcceptance, RejectionNamesTheInstruction) {
  Program p = {Ret(kAllow), Ret(kAllow), Ret(kAllow), Ret(kAllow),
               Ret(kAllow), Ret(kAllow), Ret(kAllow), J(BPF_JMP | BPF_JEQ | BPF_K, 0, 5, 0),
               Ret(kAllow)};
  auto f = check_program(p);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->index, 7u);
  EXPECT_TRUE(f->message.starts_with("instruction 7: jump out of range")) << f->message;
}

}  // namespace
}  // namespace stubfuzz::filter
