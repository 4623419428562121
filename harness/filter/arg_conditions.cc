#include "filter/arg_conditions.h"

#include <linux/audit.h>
#include <linux/filter.h>

#include <algorithm>
#include <cstddef>
#include <cstring>

namespace stubfuzz::filter {

namespace {

constexpr uint32_t kFull = 0xffffffff;
constexpr uint32_t kArgsOffset = offsetof(seccomp_data, args);
// Past this many paths a filter is not something a person reads as a matrix.
constexpr size_t kMaxCases = 512;
// Candidate values the word solver tries before it calls a path dead.
constexpr int kMaxTries = 4096;

// What the accumulator or X holds: a constant, or one argument word under
// an AND mask. Anything else computed from an argument is opaque.
struct Value {
  enum Kind : uint8_t { kConst, kArg, kOpaque } kind = kConst;
  uint32_t k = 0;
  uint8_t word = 0;
  uint32_t mask = kFull;
};

struct State {
  size_t pc = 0;
  Value a, x;
  std::array<Value, BPF_MEMWORDS> mem{};
  std::vector<ArgTest> tests;
};

uint32_t lowbit(uint32_t m) { return m & (~m + 1); }

// The bits every solution must have set or clear, and the full-word bounds.
struct WordShape {
  uint32_t must1 = 0, must0 = 0;
  uint64_t lo = 0, hi = kFull;
  bool empty = false;
};

WordShape shape_of(const std::vector<ArgTest>& tests, int word) {
  WordShape s;
  for (const ArgTest& t : tests) {
    if (t.word != word) continue;
    if (t.mask == kFull && t.rel == Relation::kGt) s.lo = std::max<uint64_t>(s.lo, t.value + 1ull);
    if (t.mask == kFull && t.rel == Relation::kLe) s.hi = std::min<uint64_t>(s.hi, t.value);
    if (t.mask == kFull && t.rel == Relation::kGe) s.lo = std::max<uint64_t>(s.lo, t.value);
    if (t.mask == kFull && t.rel == Relation::kLt) {
      if (t.value == 0) s.empty = true;
      s.hi = std::min<uint64_t>(s.hi, t.value - 1ull);
    }
    if (t.rel == Relation::kEq) {
      if (t.value & ~t.mask) s.empty = true;
      s.must1 |= t.value;
      s.must0 |= t.mask & ~t.value;
    }
    if (t.rel == Relation::kNoneSet) s.must0 |= t.mask;
    if (t.rel == Relation::kAnySet && t.mask == 0) s.empty = true;
  }
  if (s.must1 & s.must0 || s.lo > s.hi) s.empty = true;
  return s;
}

// The smallest x >= v (or largest x <= v) with the must-bits: x keeps v's
// bits above some position p and differs from v first at p.
std::optional<uint64_t> next_fit(uint64_t v, const WordShape& s, bool down) {
  if (v > kFull) return std::nullopt;
  const auto fits = [&](uint64_t x) { return (x & s.must1) == s.must1 && (x & s.must0) == 0; };
  if (fits(v)) return v;
  for (int p = 0; p < 32; p++) {
    const uint64_t bit = uint64_t{1} << p, low = bit - 1, prefix = v & ~(bit | low) & kFull;
    const uint64_t high_must1 = s.must1 & ~(bit | low);
    if ((prefix & s.must0) || (high_must1 & ~prefix)) continue;
    if (!down && !(v & bit) && !(s.must0 & bit)) return prefix | bit | (s.must1 & low);
    if (down && (v & bit) && !(s.must1 & bit)) return prefix | (~s.must0 & low);
  }
  return std::nullopt;
}

// Where to look next after `x` failed `t`: past every value that shares
// x's masked bits from t's lowest mask bit up, or the next value.
uint64_t step(uint64_t x, const ArgTest& t, bool down) {
  const uint64_t below = t.mask == kFull ? 0 : lowbit(t.mask) - 1;
  if (down) return (x & ~below) == 0 ? uint64_t{1} << 40 : (x & ~below) - 1;
  return (x | below) + 1;
}

std::optional<uint32_t> search(const std::vector<ArgTest>& tests, int word, bool down) {
  const WordShape s = shape_of(tests, word);
  if (s.empty) return std::nullopt;
  uint64_t start = down ? s.hi : s.lo;
  for (int i = 0; i < kMaxTries; i++) {
    const auto x = next_fit(start, s, down);
    if (!x || *x < s.lo || *x > s.hi) return std::nullopt;
    const auto failed = std::find_if(tests.begin(), tests.end(), [&](const ArgTest& t) {
      return t.word == word && !t.holds(static_cast<uint32_t>(*x));
    });
    if (failed == tests.end()) return static_cast<uint32_t>(*x);
    start = step(*x, *failed, down);
  }
  return std::nullopt;
}

bool feasible(const std::vector<ArgTest>& tests, int word) {
  return search(tests, word, false).has_value();
}

// The two sides of a conditional jump on an argument word.
std::pair<std::optional<ArgTest>, std::optional<ArgTest>> sides(uint16_t op, const Value& a,
                                                                uint32_t k) {
  const auto test = [&](Relation r, uint32_t v, uint32_t mask) {
    return std::optional<ArgTest>(ArgTest{a.word, mask, r, v});
  };
  switch (op) {
    case BPF_JEQ:
      return {test(Relation::kEq, k, a.mask), test(Relation::kNe, k, a.mask)};
    case BPF_JGT:
      return {test(Relation::kGt, k, a.mask), test(Relation::kLe, k, a.mask)};
    case BPF_JGE:  // >= 0 always holds; (w & 0) != 0 never does
      if (k == 0) return {std::nullopt, ArgTest{a.word, 0, Relation::kAnySet, 0}};
      return {test(Relation::kGe, k, a.mask), test(Relation::kLt, k, a.mask)};
    default:  // BPF_JSET
      return {test(Relation::kAnySet, 0, a.mask & k), test(Relation::kNoneSet, 0, a.mask & k)};
  }
}

bool jump_taken(uint16_t op, uint32_t a, uint32_t k) {
  switch (op) {
    case BPF_JEQ:
      return a == k;
    case BPF_JGT:
      return a > k;
    case BPF_JGE:
      return a >= k;
    default:
      return (a & k) != 0;
  }
}

// Constant folding of the ALU; false for a division by zero (the kernel's
// program then returns 0).
bool alu(uint16_t op, uint32_t& a, uint32_t v) {
  switch (op) {
    case BPF_ADD:
      a += v;
      return true;
    case BPF_SUB:
      a -= v;
      return true;
    case BPF_MUL:
      a *= v;
      return true;
    case BPF_DIV:
      if (v == 0) return false;
      a /= v;
      return true;
    case BPF_MOD:
      if (v == 0) return false;
      a %= v;
      return true;
    case BPF_AND:
      a &= v;
      return true;
    case BPF_OR:
      a |= v;
      return true;
    case BPF_XOR:
      a ^= v;
      return true;
    case BPF_LSH:
      a <<= (v & 31);
      return true;
    case BPF_RSH:
      a >>= (v & 31);
      return true;
    default:
      return true;
  }
}

class Walker {
 public:
  Walker(const Program& prog, const seccomp_data& data) : prog_(prog), data_(data) {}

  ArgVerdicts run() {
    std::vector<State> todo(1);
    while (!todo.empty() && out_.incomplete.empty()) {
      State s = std::move(todo.back());
      todo.pop_back();
      walk(std::move(s), todo);
    }
    if (!out_.incomplete.empty()) out_.cases.clear();
    return std::move(out_);
  }

 private:
  void give_up(size_t pc, const std::string& why) {
    if (out_.incomplete.empty()) out_.incomplete = "instruction " + std::to_string(pc) + ": " + why;
  }

  Value load(uint32_t off) const {
    const auto word = static_cast<uint8_t>((off - kArgsOffset) / 4);
    // int $0x80 passes 32-bit registers: the upper halves are always 0.
    if (off >= kArgsOffset && !(word % 2 && data_.arch == AUDIT_ARCH_I386))
      return {Value::kArg, 0, word};
    uint32_t v;
    std::memcpy(&v, reinterpret_cast<const char*>(&data_) + off, sizeof(v));
    return {Value::kConst, v};
  }

  void finish(State& s, uint32_t ret) {
    ArgCase c;
    c.ret = ret;
    for (int w = 0; w < kArgWords; w++) {
      const bool tested = std::any_of(s.tests.begin(), s.tests.end(),
                                      [&](const ArgTest& t) { return t.word == w; });
      if (!tested) continue;
      const int shift = (w % 2) * 32;
      c.lowest[w / 2] |= uint64_t{*solve_word(s.tests, w, false)} << shift;
      c.highest[w / 2] |= uint64_t{*solve_word(s.tests, w, true)} << shift;
    }
    c.tests = std::move(s.tests);
    out_.cases.push_back(std::move(c));
    if (out_.cases.size() > kMaxCases)
      give_up(s.pc, "more than " + std::to_string(kMaxCases) + " argument cases");
  }

  // Runs `s` until it returns or forks; a fork pushes the false side.
  void walk(State s, std::vector<State>& todo) {
    const size_t len = prog_.size();
    for (; s.pc < len; s.pc++) {
      const sock_filter& in = prog_[s.pc];
      const uint16_t code = in.code;
      switch (BPF_CLASS(code)) {
        case BPF_LD:
        case BPF_LDX: {
          Value& dst = BPF_CLASS(code) == BPF_LD ? s.a : s.x;
          if (code == (BPF_LD | BPF_W | BPF_ABS)) {
            if (in.k >= sizeof(seccomp_data) || in.k % 4) return give_up(s.pc, "bad load");
            s.a = load(in.k);
          } else if (BPF_MODE(code) == BPF_LEN) {
            dst = {Value::kConst, sizeof(seccomp_data)};
          } else if (BPF_MODE(code) == BPF_IMM) {
            dst = {Value::kConst, in.k};
          } else if (BPF_MODE(code) == BPF_MEM && in.k < BPF_MEMWORDS) {
            dst = s.mem[in.k];
          } else {
            return give_up(s.pc, "load not allowed for seccomp");
          }
          break;
        }
        case BPF_ST:
        case BPF_STX:
          if (in.k >= BPF_MEMWORDS) return give_up(s.pc, "scratch index out of range");
          s.mem[in.k] = code == BPF_ST ? s.a : s.x;
          break;
        case BPF_ALU: {
          if (BPF_OP(code) == BPF_NEG) {
            if (s.a.kind == Value::kConst)
              s.a.k = 0u - s.a.k;
            else
              s.a.kind = Value::kOpaque;
            break;
          }
          const Value v = BPF_SRC(code) == BPF_X ? s.x : Value{Value::kConst, in.k};
          if (s.a.kind == Value::kConst && v.kind == Value::kConst) {
            if (!alu(BPF_OP(code), s.a.k, v.k)) return finish(s, 0);
          } else if (s.a.kind == Value::kArg && v.kind == Value::kConst &&
                     BPF_OP(code) == BPF_AND) {
            s.a.mask &= v.k;
            if (s.a.mask == 0) s.a = {Value::kConst, 0};  // libseccomp masks a half away
          } else {
            s.a.kind = Value::kOpaque;  // only a jump or a return on it gives up
          }
          break;
        }
        case BPF_JMP: {
          if (code == (BPF_JMP | BPF_JA)) {
            s.pc += in.k;
            break;
          }
          const Value v = BPF_SRC(code) == BPF_X ? s.x : Value{Value::kConst, in.k};
          const uint16_t op = BPF_OP(code);
          if (s.a.kind == Value::kConst && v.kind == Value::kConst) {
            s.pc += jump_taken(op, s.a.k, v.k) ? in.jt : in.jf;
            break;
          }
          if (s.a.kind != Value::kArg || v.kind != Value::kConst)
            return give_up(s.pc, "a comparison explain cannot follow (argument arithmetic)");
          auto [yes, no] = sides(op, s.a, v.k);
          State other = s;
          const bool yes_ok = push_test(s, yes, in.jt);
          if (push_test(other, no, in.jf)) todo.push_back(std::move(other));
          if (!yes_ok) return;
          // A taken side pushes last so it is walked first: program order.
          todo.push_back(std::move(s));
          return;
        }
        case BPF_RET:
          if (code == (BPF_RET | BPF_A) && s.a.kind != Value::kConst)
            return give_up(s.pc, "returns a value computed from an argument");
          return finish(s, code == (BPF_RET | BPF_A) ? s.a.k : in.k);
        case BPF_MISC:
          if (code == (BPF_MISC | BPF_TAX))
            s.x = s.a;
          else
            s.a = s.x;
          break;
      }
    }
    give_up(len, "ran off the end without a return");
  }

  // Adds a side's test (none, or a JSET of no bit left unset: the side
  // always holds) and moves to the jump's target; false when no argument
  // value takes that side.
  bool push_test(State& s, const std::optional<ArgTest>& t, uint8_t offset) {
    if (t && !(t->rel == Relation::kNoneSet && t->mask == 0)) {
      s.tests.push_back(*t);
      if (!feasible(s.tests, t->word)) return false;
    }
    s.pc += 1 + offset;
    return true;
  }

  const Program& prog_;
  const seccomp_data& data_;
  ArgVerdicts out_;
};

}  // namespace

bool ArgTest::holds(uint32_t w) const {
  const uint32_t v = w & mask;
  switch (rel) {
    case Relation::kEq:
      return v == value;
    case Relation::kNe:
      return v != value;
    case Relation::kGt:
      return v > value;
    case Relation::kLe:
      return v <= value;
    case Relation::kGe:
      return v >= value;
    case Relation::kLt:
      return v < value;
    case Relation::kAnySet:
      return v != 0;
    case Relation::kNoneSet:
      return v == 0;
  }
  return false;
}

bool ArgVerdicts::depends_on_args() const {
  return std::any_of(cases.begin(), cases.end(),
                     [&](const ArgCase& c) { return c.ret != cases.front().ret; });
}

std::optional<uint32_t> solve_word(const std::vector<ArgTest>& tests, int word, bool highest) {
  return search(tests, word, highest);
}

ArgVerdicts arg_verdicts(const Program& prog, const seccomp_data& data) {
  if (prog.empty() || prog.size() > BPF_MAXINSNS) return {{}, "program length out of range"};
  return Walker(prog, data).run();
}

}  // namespace stubfuzz::filter
