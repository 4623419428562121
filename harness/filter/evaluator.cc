#include "filter/evaluator.h"

#include <linux/filter.h>

#include <algorithm>
#include <cstring>

namespace stubfuzz::filter {

namespace {

constexpr uint32_t kDataSize = sizeof(seccomp_data);
// Filters of real profiles test a dozen or two values on one path.
constexpr size_t kComparisonsReserved = 32;

int32_t action_only(uint32_t ret) { return static_cast<int32_t>(ret & SECCOMP_RET_ACTION_FULL); }

uint32_t load_word(const seccomp_data& d, uint32_t off) {
  uint32_t v;
  std::memcpy(&v, reinterpret_cast<const char*>(&d) + off, sizeof(v));
  return v;
}

bool alu(uint16_t op, uint32_t& a, uint32_t operand, std::string& fault) {
  switch (op) {
    case BPF_ADD:
      a += operand;
      return true;
    case BPF_SUB:
      a -= operand;
      return true;
    case BPF_MUL:
      a *= operand;
      return true;
    case BPF_DIV:
      // Only X can be 0 here (the checker refuses /0 by K); the kernel's
      // converted program then returns 0.
      if (operand == 0) return false;
      a /= operand;
      return true;
    case BPF_MOD:
      if (operand == 0) return false;
      a %= operand;
      return true;
    case BPF_AND:
      a &= operand;
      return true;
    case BPF_OR:
      a |= operand;
      return true;
    case BPF_XOR:
      a ^= operand;
      return true;
    // The interpreter and the x86 JIT both use the low 5 bits of X.
    case BPF_LSH:
      a <<= (operand & 31);
      return true;
    case BPF_RSH:
      a >>= (operand & 31);
      return true;
    default:
      fault = "unknown ALU operation";
      return false;
  }
}

bool jump_taken(uint16_t op, uint32_t a, uint32_t operand) {
  switch (op) {
    case BPF_JEQ:
      return a == operand;
    case BPF_JGT:
      return a > operand;
    case BPF_JGE:
      return a >= operand;
    default:
      return (a & operand) != 0;  // BPF_JSET
  }
}

}  // namespace

const char* to_string(Action a) {
  switch (a) {
    case Action::kKillProcess:
      return "KILL_PROCESS";
    case Action::kKillThread:
      return "KILL_THREAD";
    case Action::kTrap:
      return "TRAP";
    case Action::kErrno:
      return "ERRNO";
    case Action::kUserNotif:
      return "USER_NOTIF";
    case Action::kTrace:
      return "TRACE";
    case Action::kLog:
      return "LOG";
    case Action::kAllow:
      return "ALLOW";
  }
  return "?";
}

bool is_known_action(uint32_t ret) {
  switch (ret & SECCOMP_RET_ACTION_FULL) {
    case SECCOMP_RET_KILL_PROCESS:
    case SECCOMP_RET_KILL_THREAD:
    case SECCOMP_RET_TRAP:
    case SECCOMP_RET_ERRNO:
    case SECCOMP_RET_USER_NOTIF:
    case SECCOMP_RET_TRACE:
    case SECCOMP_RET_LOG:
    case SECCOMP_RET_ALLOW:
      return true;
    default:
      return false;
  }
}

Action action_of(uint32_t ret) {
  switch (ret & SECCOMP_RET_ACTION_FULL) {
    case SECCOMP_RET_KILL_THREAD:
      return Action::kKillThread;
    case SECCOMP_RET_TRAP:
      return Action::kTrap;
    case SECCOMP_RET_ERRNO:
      return Action::kErrno;
    case SECCOMP_RET_USER_NOTIF:
      return Action::kUserNotif;
    case SECCOMP_RET_TRACE:
      return Action::kTrace;
    case SECCOMP_RET_LOG:
      return Action::kLog;
    case SECCOMP_RET_ALLOW:
      return Action::kAllow;
    default:
      return Action::kKillProcess;
  }
}

seccomp_data make_seccomp_data(int nr, uint32_t arch, uint64_t ip,
                               const std::array<uint64_t, 6>& args) {
  seccomp_data d{};
  d.nr = nr;
  d.arch = arch;
  d.instruction_pointer = ip;
  for (size_t i = 0; i < args.size(); i++) d.args[i] = args[i];
  return d;
}

// One switch over the opcode classes, as the kernel's interpreter: A, X,
// the scratch words and pc stay in one place (longer than the rest of the
// tree's functions for that reason).
Evaluation evaluate(const Program& prog, const seccomp_data& data, const EvalOptions& options) {
  Evaluation ev;
  uint32_t a = 0, x = 0;  // the converted program clears both first
  uint32_t mem[BPF_MEMWORDS] = {};
  Provenance ao, xo, memo[BPF_MEMWORDS];  // where a, x and mem came from
  const size_t len = prog.size();
  auto fail = [&](size_t pc, const std::string& why) {
    ev.ok = false;
    ev.fault = "instruction " + std::to_string(pc) + ": " + why;
    return ev;
  };
  if (len == 0 || len > BPF_MAXINSNS) return fail(0, "program length out of range");
  // One allocation each, not one per doubling: the oracle evaluates every
  // record of every program.
  if (options.trace) ev.trace.reserve(len);
  if (options.comparisons) ev.comparisons.reserve(std::min<size_t>(len, kComparisonsReserved));

  // pc only grows, so this loop runs at most `len` times.
  for (size_t pc = 0; pc < len; pc++) {
    const sock_filter& in = prog[pc];
    if (options.trace) ev.trace.push_back(static_cast<uint16_t>(pc));
    const uint16_t code = in.code;
    switch (BPF_CLASS(code)) {
      case BPF_LD:
      case BPF_LDX: {
        uint32_t& dst = BPF_CLASS(code) == BPF_LD ? a : x;
        Provenance& dsto = BPF_CLASS(code) == BPF_LD ? ao : xo;
        if (code == (BPF_LD | BPF_W | BPF_ABS)) {
          if (in.k >= kDataSize || in.k % 4) return fail(pc, "load outside seccomp_data");
          a = load_word(data, in.k);
          ao = {static_cast<int16_t>(in.k), ~0u};
        } else if (code == (BPF_LD | BPF_W | BPF_LEN) || code == (BPF_LDX | BPF_W | BPF_LEN)) {
          dst = kDataSize;  // seccomp rewrites LEN to sizeof(seccomp_data)
          dsto = {};
        } else if (code == (BPF_LD | BPF_IMM) || code == (BPF_LDX | BPF_IMM)) {
          dst = in.k;
          dsto = {};
        } else if (code == (BPF_LD | BPF_MEM) || code == (BPF_LDX | BPF_MEM)) {
          if (in.k >= BPF_MEMWORDS) return fail(pc, "scratch index out of range");
          dst = mem[in.k];
          dsto = memo[in.k];
        } else {
          return fail(pc, "load not allowed for seccomp");
        }
        break;
      }
      case BPF_ST:
      case BPF_STX:
        if (code != BPF_ST && code != BPF_STX) return fail(pc, "bad store opcode");
        if (in.k >= BPF_MEMWORDS) return fail(pc, "scratch index out of range");
        mem[in.k] = code == BPF_ST ? a : x;
        memo[in.k] = code == BPF_ST ? ao : xo;
        break;
      case BPF_ALU: {
        if (code == (BPF_ALU | BPF_NEG)) {
          a = 0u - a;
          ao = {};
          break;
        }
        if (code & ~(BPF_CLASS(0xff) | BPF_OP(0xff) | BPF_SRC(0xff)) || BPF_OP(code) == BPF_NEG)
          return fail(pc, "bad ALU opcode");
        std::string why;
        const uint32_t operand = BPF_SRC(code) == BPF_X ? x : in.k;
        if (BPF_OP(code) == BPF_AND)
          ao.mask &= operand;
        else
          ao = {};
        if (!alu(BPF_OP(code), a, operand, why)) {
          if (!why.empty()) return fail(pc, why);
          ev.ok = true;  // division by X == 0: the program returns 0
          ev.ret = 0;
          return ev;
        }
        break;
      }
      case BPF_JMP: {
        if (code == (BPF_JMP | BPF_JA)) {
          if (in.k >= len - pc - 1) return fail(pc, "jump out of range");
          pc += in.k;
          break;
        }
        const uint16_t op = BPF_OP(code);
        if ((op != BPF_JEQ && op != BPF_JGT && op != BPF_JGE && op != BPF_JSET) ||
            (code & ~(BPF_CLASS(0xff) | BPF_OP(0xff) | BPF_SRC(0xff))))
          return fail(pc, "bad jump opcode");
        const uint32_t operand = BPF_SRC(code) == BPF_X ? x : in.k;
        const bool taken = jump_taken(op, a, operand);
        if (options.comparisons)
          ev.comparisons.push_back({static_cast<uint16_t>(pc), op, a, operand, taken, ao});
        const size_t off = taken ? in.jt : in.jf;
        if (pc + 1 + off >= len) return fail(pc, "jump out of range");
        pc += off;
        break;
      }
      case BPF_RET:
        if (code == (BPF_RET | BPF_K)) {
          ev.ret = in.k;
        } else if (code == (BPF_RET | BPF_A)) {
          ev.ret = a;
        } else {
          return fail(pc, "bad return opcode");
        }
        ev.ok = true;
        return ev;
      case BPF_MISC:
        if (code == (BPF_MISC | BPF_TAX)) {
          x = a;
          xo = ao;
        } else if (code == (BPF_MISC | BPF_TXA)) {
          a = x;
          ao = xo;
        } else {
          return fail(pc, "bad misc opcode");
        }
        break;
    }
  }
  return fail(len - 1, "ran off the end without a return");
}

uint32_t combine_returns(std::span<const uint32_t> rets) {
  uint32_t ret = SECCOMP_RET_ALLOW;
  for (auto it = rets.rbegin(); it != rets.rend(); ++it)
    if (action_only(*it) < action_only(ret)) ret = *it;
  return ret;
}

uint32_t evaluate_stack(std::span<const Program> filters, const seccomp_data& data) {
  std::vector<uint32_t> rets;
  for (const Program& p : filters)
    rets.push_back(evaluate(p, data, {.trace = false, .comparisons = false}).ret);
  return combine_returns(rets);
}

}  // namespace stubfuzz::filter
