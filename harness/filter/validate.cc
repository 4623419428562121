#include "filter/validate.h"

#include <linux/filter.h>
#include <linux/seccomp.h>

#include <array>
#include <cstdio>
#include <vector>

namespace stubfuzz::filter {

namespace {

constexpr uint32_t kDataSize = sizeof(seccomp_data);

// chk_code_allowed(): every opcode classic BPF knows (sockets included).
bool classic_opcode(uint16_t code) {
  switch (code) {
    case BPF_ALU | BPF_ADD | BPF_K:
    case BPF_ALU | BPF_ADD | BPF_X:
    case BPF_ALU | BPF_SUB | BPF_K:
    case BPF_ALU | BPF_SUB | BPF_X:
    case BPF_ALU | BPF_MUL | BPF_K:
    case BPF_ALU | BPF_MUL | BPF_X:
    case BPF_ALU | BPF_DIV | BPF_K:
    case BPF_ALU | BPF_DIV | BPF_X:
    case BPF_ALU | BPF_MOD | BPF_K:
    case BPF_ALU | BPF_MOD | BPF_X:
    case BPF_ALU | BPF_AND | BPF_K:
    case BPF_ALU | BPF_AND | BPF_X:
    case BPF_ALU | BPF_OR | BPF_K:
    case BPF_ALU | BPF_OR | BPF_X:
    case BPF_ALU | BPF_XOR | BPF_K:
    case BPF_ALU | BPF_XOR | BPF_X:
    case BPF_ALU | BPF_LSH | BPF_K:
    case BPF_ALU | BPF_LSH | BPF_X:
    case BPF_ALU | BPF_RSH | BPF_K:
    case BPF_ALU | BPF_RSH | BPF_X:
    case BPF_ALU | BPF_NEG:
    case BPF_LD | BPF_W | BPF_ABS:
    case BPF_LD | BPF_H | BPF_ABS:
    case BPF_LD | BPF_B | BPF_ABS:
    case BPF_LD | BPF_W | BPF_LEN:
    case BPF_LD | BPF_W | BPF_IND:
    case BPF_LD | BPF_H | BPF_IND:
    case BPF_LD | BPF_B | BPF_IND:
    case BPF_LD | BPF_IMM:
    case BPF_LD | BPF_MEM:
    case BPF_LDX | BPF_W | BPF_LEN:
    case BPF_LDX | BPF_B | BPF_MSH:
    case BPF_LDX | BPF_IMM:
    case BPF_LDX | BPF_MEM:
    case BPF_ST:
    case BPF_STX:
    case BPF_MISC | BPF_TAX:
    case BPF_MISC | BPF_TXA:
    case BPF_RET | BPF_K:
    case BPF_RET | BPF_A:
    case BPF_JMP | BPF_JA:
    case BPF_JMP | BPF_JEQ | BPF_K:
    case BPF_JMP | BPF_JEQ | BPF_X:
    case BPF_JMP | BPF_JGE | BPF_K:
    case BPF_JMP | BPF_JGE | BPF_X:
    case BPF_JMP | BPF_JGT | BPF_K:
    case BPF_JMP | BPF_JGT | BPF_X:
    case BPF_JMP | BPF_JSET | BPF_K:
    case BPF_JMP | BPF_JSET | BPF_X:
      return true;
    default:
      return false;
  }
}

bool conditional_jump(uint16_t code) {
  return BPF_CLASS(code) == BPF_JMP && code != (BPF_JMP | BPF_JA);
}

// The ancillary loads (SKF_AD_OFF + n) bpf_anc_helper() recognises; they
// pass the classic check and then fail seccomp's.
bool known_ancillary(uint32_t k) {
  if (k < static_cast<uint32_t>(SKF_AD_OFF)) return false;
  const uint32_t n = k - SKF_AD_OFF;
  return n <= SKF_AD_MAX - 4 && n % 4 == 0;
}

CheckFailure fail(Rejection r, size_t pc, const std::string& detail) {
  std::string msg = "instruction " + std::to_string(pc) + ": " + to_string(r);
  if (!detail.empty()) msg += " (" + detail + ")";
  return {r, pc, msg};
}

std::string hex(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "0x%x", v);
  return buf;
}

std::optional<CheckFailure> check_classic(const Program& prog) {
  const size_t len = prog.size();
  for (size_t pc = 0; pc < len; pc++) {
    const sock_filter& in = prog[pc];
    if (!classic_opcode(in.code)) return fail(Rejection::kBadOpcode, pc, "code " + hex(in.code));
    switch (in.code) {
      case BPF_ALU | BPF_DIV | BPF_K:
      case BPF_ALU | BPF_MOD | BPF_K:
        if (in.k == 0) return fail(Rejection::kDivisionByZero, pc, "");
        break;
      case BPF_ALU | BPF_LSH | BPF_K:
      case BPF_ALU | BPF_RSH | BPF_K:
        if (in.k >= 32) return fail(Rejection::kShiftTooFar, pc, "by " + std::to_string(in.k));
        break;
      case BPF_LD | BPF_MEM:
      case BPF_LDX | BPF_MEM:
      case BPF_ST:
      case BPF_STX:
        if (in.k >= BPF_MEMWORDS)
          return fail(Rejection::kBadScratchIndex, pc, "M[" + std::to_string(in.k) + "]");
        break;
      case BPF_JMP | BPF_JA:
        if (in.k >= len - pc - 1)
          return fail(Rejection::kJumpOutOfRange, pc,
                      "ja +" + std::to_string(in.k) + " in " + std::to_string(len));
        break;
      case BPF_LD | BPF_W | BPF_ABS:
      case BPF_LD | BPF_H | BPF_ABS:
      case BPF_LD | BPF_B | BPF_ABS:
        if (in.k >= static_cast<uint32_t>(SKF_AD_OFF) && !known_ancillary(in.k))
          return fail(Rejection::kBadPacketLoad, pc, "offset " + hex(in.k));
        break;
      default:
        if (conditional_jump(in.code) && (pc + in.jt + 1 >= len || pc + in.jf + 1 >= len))
          return fail(Rejection::kJumpOutOfRange, pc,
                      "targets " + std::to_string(pc + 1 + in.jt) + ", " +
                          std::to_string(pc + 1 + in.jf) + " in " + std::to_string(len));
    }
  }
  const uint16_t last = prog[len - 1].code;
  if (last != (BPF_RET | BPF_K) && last != (BPF_RET | BPF_A))
    return fail(Rejection::kNoFinalReturn, len - 1, "");
  return std::nullopt;
}

// check_load_and_stores(): a forward pass; a jump target may only read what
// every jump into it (and, quirk kept, the fall-through) has stored.
std::optional<CheckFailure> check_scratch(const Program& prog) {
  std::vector<uint16_t> masks(prog.size(), 0xffff);
  uint16_t valid = 0;
  for (size_t pc = 0; pc < prog.size(); pc++) {
    const sock_filter& in = prog[pc];
    valid &= masks[pc];
    if (in.code == BPF_ST || in.code == BPF_STX) {
      valid |= static_cast<uint16_t>(1u << in.k);
    } else if (in.code == (BPF_LD | BPF_MEM) || in.code == (BPF_LDX | BPF_MEM)) {
      if (!(valid & (1u << in.k)))
        return fail(Rejection::kScratchNotStored, pc, "M[" + std::to_string(in.k) + "]");
    } else if (in.code == (BPF_JMP | BPF_JA)) {
      masks[pc + 1 + in.k] &= valid;
      valid = 0xffff;
    } else if (conditional_jump(in.code)) {
      masks[pc + 1 + in.jt] &= valid;
      masks[pc + 1 + in.jf] &= valid;
      valid = 0xffff;
    }
  }
  return std::nullopt;
}

std::optional<CheckFailure> check_seccomp(const Program& prog) {
  for (size_t pc = 0; pc < prog.size(); pc++) {
    const sock_filter& in = prog[pc];
    switch (in.code) {
      case BPF_LD | BPF_W | BPF_ABS:
        if (in.k >= kDataSize || in.k % 4)
          return fail(Rejection::kBadDataOffset, pc, "offset " + hex(in.k));
        break;
      case BPF_LD | BPF_H | BPF_ABS:
      case BPF_LD | BPF_B | BPF_ABS:
      case BPF_LD | BPF_W | BPF_IND:
      case BPF_LD | BPF_H | BPF_IND:
      case BPF_LD | BPF_B | BPF_IND:
      case BPF_LDX | BPF_B | BPF_MSH:
      case BPF_ALU | BPF_MOD | BPF_K:
      case BPF_ALU | BPF_MOD | BPF_X:
        return fail(Rejection::kNotForSeccomp, pc, "code " + hex(in.code));
      default:
        break;  // every other classic opcode is on seccomp's list
    }
  }
  return std::nullopt;
}

}  // namespace

const char* to_string(Rejection r) {
  switch (r) {
    case Rejection::kEmpty:
      return "empty program";
    case Rejection::kTooLong:
      return "too long";
    case Rejection::kBadOpcode:
      return "unknown opcode";
    case Rejection::kDivisionByZero:
      return "division by constant 0";
    case Rejection::kShiftTooFar:
      return "shift by 32 or more";
    case Rejection::kBadScratchIndex:
      return "scratch index out of range";
    case Rejection::kJumpOutOfRange:
      return "jump out of range";
    case Rejection::kBadPacketLoad:
      return "packet load out of range";
    case Rejection::kNoFinalReturn:
      return "last instruction is not a return";
    case Rejection::kScratchNotStored:
      return "scratch memory read before stored";
    case Rejection::kNotForSeccomp:
      return "opcode not allowed in seccomp filters";
    case Rejection::kBadDataOffset:
      return "load outside seccomp_data or misaligned";
  }
  return "?";
}

std::optional<CheckFailure> check_program(const Program& prog) {
  if (prog.empty()) return CheckFailure{Rejection::kEmpty, 0, "empty program"};
  if (prog.size() > BPF_MAXINSNS)
    return CheckFailure{Rejection::kTooLong, BPF_MAXINSNS,
                        "too long: " + std::to_string(prog.size()) + " instructions, at most " +
                            std::to_string(BPF_MAXINSNS)};
  if (auto f = check_classic(prog)) return f;
  if (auto f = check_scratch(prog)) return f;
  return check_seccomp(prog);
}

Status validate(const Program& prog) {
  if (auto f = check_program(prog)) return Error{f->message, EINVAL};
  return {};
}

}  // namespace stubfuzz::filter
