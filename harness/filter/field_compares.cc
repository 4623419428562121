#include "filter/field_compares.h"

#include <linux/filter.h>

#include <array>
#include <optional>

namespace stubfuzz::filter {

namespace {

// What each register and scratch word holds, as the evaluator tracks it.
struct State {
  Provenance a, x;
  std::array<Provenance, BPF_MEMWORDS> mem{};
};

Provenance join(const Provenance& p, const Provenance& q) { return p == q ? p : Provenance{}; }

State join(const State& p, const State& q) {
  State s{join(p.a, q.a), join(p.x, q.x), {}};
  for (size_t i = 0; i < s.mem.size(); i++) s.mem[i] = join(p.mem[i], q.mem[i]);
  return s;
}

// The instruction's effect on where values came from; false when it ends
// the path (a return, or something the checker refuses).
bool step(const sock_filter& in, State& s) {
  const uint16_t code = in.code;
  switch (BPF_CLASS(code)) {
    case BPF_LD:
    case BPF_LDX: {
      Provenance& dst = BPF_CLASS(code) == BPF_LD ? s.a : s.x;
      if (code == (BPF_LD | BPF_W | BPF_ABS))
        s.a = in.k < sizeof(seccomp_data) && in.k % 4 == 0
                  ? Provenance{static_cast<int16_t>(in.k), ~0u}
                  : Provenance{};
      else if (BPF_MODE(code) == BPF_MEM)
        dst = in.k < BPF_MEMWORDS ? s.mem[in.k] : Provenance{};
      else
        dst = {};
      return true;
    }
    case BPF_ST:
    case BPF_STX:
      if (in.k < BPF_MEMWORDS) s.mem[in.k] = BPF_CLASS(code) == BPF_ST ? s.a : s.x;
      return true;
    case BPF_ALU:
      // AND by X keeps only what both masks keep, as far as is known here.
      if (BPF_OP(code) == BPF_AND && BPF_SRC(code) == BPF_K)
        s.a.mask &= in.k;
      else
        s.a = {};
      return true;
    case BPF_MISC:
      if (code == (BPF_MISC | BPF_TAX))
        s.x = s.a;
      else
        s.a = s.x;
      return true;
    case BPF_RET:
      return false;
    default:
      return true;  // jumps: their targets are handled by the caller
  }
}

uint32_t lowest_bit(uint32_t v) { return v & (0u - v); }

}  // namespace

std::vector<FieldCompare> field_compares(const Program& prog) {
  std::vector<std::optional<State>> at(prog.size());
  if (!prog.empty()) at[0] = State{};
  auto reach = [&](size_t target, const State& s) {
    if (target >= prog.size()) return;
    at[target] = at[target] ? join(*at[target], s) : s;
  };
  std::vector<FieldCompare> out;
  // Classic BPF only jumps forward, so one pass in order sees every
  // predecessor of an instruction before the instruction.
  for (size_t pc = 0; pc < prog.size(); pc++) {
    if (!at[pc]) continue;
    State s = *at[pc];
    const sock_filter& in = prog[pc];
    if (BPF_CLASS(in.code) == BPF_JMP) {
      const uint16_t op = BPF_OP(in.code);
      if (op == BPF_JA) {
        reach(pc + 1 + in.k, s);
        continue;
      }
      if (BPF_SRC(in.code) == BPF_K && s.a.known() &&
          (op == BPF_JEQ || op == BPF_JGT || op == BPF_JGE || op == BPF_JSET))
        out.push_back({static_cast<uint16_t>(pc), op, in.k, s.a});
      reach(pc + 1 + in.jt, s);
      reach(pc + 1 + in.jf, s);
      continue;
    }
    if (step(in, s)) reach(pc + 1, s);
  }
  return out;
}

std::vector<uint32_t> values_for_other_side(uint16_t op, uint32_t k, uint32_t mask, uint32_t field,
                                            bool taken) {
  // A value of A the comparison should see; the field keeps its other bits.
  std::vector<uint32_t> out;
  auto want = [&](uint32_t a) {
    if ((a & ~mask) == 0) out.push_back((field & ~mask) | a);
  };
  switch (op) {
    case BPF_JEQ:
      if (!taken)
        want(k);
      else if (mask)
        out.push_back(field ^ lowest_bit(mask));
      break;
    case BPF_JGT:
      if (taken)
        want(k & mask);
      else if (k != ~0u && ((k + 1) & ~mask) == 0)
        want(k + 1);
      else if (mask > k)
        want(mask);
      break;
    case BPF_JGE:
      if (taken) {
        if (k != 0) want((k - 1) & mask);
      } else if ((k & ~mask) == 0) {
        want(k);
      } else if (mask >= k) {
        want(mask);
      }
      break;
    case BPF_JSET:
      if (taken)
        out.push_back(field & ~(k & mask));
      else if (k & mask)
        out.push_back(field | lowest_bit(k & mask));
      break;
  }
  return out;
}

}  // namespace stubfuzz::filter
