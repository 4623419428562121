#include "explain/conditions.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <optional>

#include "filter/arg_names.h"

namespace stubfuzz::explain {

namespace {

using filter::ArgTest;
using filter::Relation;

constexpr uint32_t kFull = 0xffffffff;

struct Describer {
  filter::Arch arch;
  std::string_view syscall;

  std::string value(int arg, uint64_t v) const {
    const std::string name = filter::arg_value_name(syscall, arg, v);
    return hex(v) + (name.empty() ? "" : " (" + name + ")");
  }

  // The bounds full-word tests put on each half ([lo, hi] per half), or
  // none when a half has another kind of test.
  static std::optional<std::array<uint64_t, 4>> bounds(const std::vector<ArgTest>& tests) {
    std::array<uint64_t, 4> b{0, kFull, 0, kFull};  // lo.min, lo.max, hi.min, hi.max
    std::vector<ArgTest> excluded;
    for (const ArgTest& t : tests) {
      uint64_t& min = b[t.upper() * 2];
      uint64_t& max = b[t.upper() * 2 + 1];
      if (t.mask != kFull) return std::nullopt;
      switch (t.rel) {
        case Relation::kEq:
          min = std::max<uint64_t>(min, t.value);
          max = std::min<uint64_t>(max, t.value);
          break;
        case Relation::kGt:
          min = std::max<uint64_t>(min, t.value + 1ull);
          break;
        case Relation::kGe:
          min = std::max<uint64_t>(min, t.value);
          break;
        case Relation::kLe:
          max = std::min<uint64_t>(max, t.value);
          break;
        case Relation::kLt:
          max = std::min<uint64_t>(max, t.value - 1ull);
          break;
        case Relation::kNe:
          excluded.push_back(t);
          break;
        default:
          return std::nullopt;
      }
    }
    // A value excluded at an end of the range only moves that end
    // (libseccomp's 64-bit compares: hi <= 1 and hi != 1).
    for (size_t pass = 0; pass < excluded.size(); pass++)
      for (const ArgTest& t : excluded) {
        uint64_t& min = b[t.upper() * 2];
        uint64_t& max = b[t.upper() * 2 + 1];
        if (t.value == min && min < max) min++;
        if (t.value == max && min < max) max--;
      }
    for (const ArgTest& t : excluded)
      if (t.value >= b[t.upper() * 2] && t.value <= b[t.upper() * 2 + 1]) return std::nullopt;
    return b;
  }

  // Both halves as one 64-bit interval, when together they leave one
  // contiguous range.
  std::optional<std::pair<uint64_t, uint64_t>> interval(const std::vector<ArgTest>& tests) const {
    auto b = bounds(tests);
    if (!b) return std::nullopt;
    if (arch == filter::Arch::kI386) (*b)[2] = (*b)[3] = 0;
    const bool low_free = (*b)[0] == 0 && (*b)[1] == kFull;
    if ((*b)[2] != (*b)[3] && !low_free) return std::nullopt;
    return std::make_pair((*b)[2] << 32 | (*b)[0], (*b)[3] << 32 | (*b)[1]);
  }

  std::string range(int arg, const std::string& who, uint64_t lo, uint64_t hi,
                    bool half = false) const {
    const uint64_t top = arch == filter::Arch::kI386 || half ? kFull : ~uint64_t{0};
    if (lo == hi) return who + " == " + value(arg, lo);
    if (lo == 0) return who + " <= " + value(arg, hi);
    if (hi == top) return who + " >= " + value(arg, lo);
    return who + " in [" + value(arg, lo) + ", " + value(arg, hi) + "]";
  }

  std::string one(const ArgTest& t, const std::string& who) const {
    const int arg = t.arg();
    const auto named = [&](uint64_t v) { return t.upper() ? hex(v) : value(arg, v); };
    if (t.mask == kFull) {
      switch (t.rel) {
        case Relation::kEq:
          return who + " == " + named(t.value);
        case Relation::kNe:
          return who + " != " + named(t.value);
        case Relation::kGt:
          return who + " > " + named(t.value);
        case Relation::kLe:
          return who + " <= " + named(t.value);
        case Relation::kGe:
          return who + " >= " + named(t.value);
        case Relation::kLt:
          return who + " < " + named(t.value);
        default:
          break;
      }
    }
    switch (t.rel) {
      case Relation::kAnySet:
        return who + " has any bit of " + named(t.mask);
      case Relation::kNoneSet:
        return who + " has no bit of " + named(t.mask);
      case Relation::kEq:
        return "(" + who + " & " + hex(t.mask) + ") == " + named(t.value);
      case Relation::kNe:
        return "(" + who + " & " + hex(t.mask) + ") != " + named(t.value);
      case Relation::kGt:
        return "(" + who + " & " + hex(t.mask) + ") > " + hex(t.value);
      case Relation::kLe:
        return "(" + who + " & " + hex(t.mask) + ") <= " + hex(t.value);
      case Relation::kGe:
        return "(" + who + " & " + hex(t.mask) + ") >= " + hex(t.value);
      case Relation::kLt:
        return "(" + who + " & " + hex(t.mask) + ") < " + hex(t.value);
    }
    return "?";
  }

  std::string arg_tests(int arg, const std::vector<ArgTest>& tests) const {
    const std::string name = "args[" + std::to_string(arg) + "]";
    if (auto r = interval(tests)) return range(arg, name, r->first, r->second);
    // An upper half of 0 (always so on i386) makes the lower half's tests
    // tests of the whole argument.
    bool upper_zero = arch == filter::Arch::kI386;
    for (const ArgTest& t : tests)
      if (t.upper() && t.mask == kFull && t.rel == Relation::kEq && t.value == 0) upper_zero = true;
    std::string out;
    for (int upper = 0; upper < 2; upper++) {
      if (upper_zero && upper) continue;
      std::vector<ArgTest> half;
      for (const ArgTest& t : tests)
        if (t.upper() == static_cast<bool>(upper)) half.push_back(t);
      if (half.empty()) continue;
      const std::string who = upper_zero ? name : name + (upper ? ".hi" : ".lo");
      std::string s;
      // Bounds on one half read as one range of it.
      const auto b = bounds(half);
      if (b && half.size() > 1)
        s = range(arg, who, (*b)[upper * 2], (*b)[upper * 2 + 1], true);
      else
        for (const ArgTest& t : half) s += (s.empty() ? "" : " and ") + one(t, who);
      out += (out.empty() ? "" : " and ") + s;
    }
    return out;
  }
};

// The cases ending in `ret` as ranges of one argument, adjacent ones
// merged (a 64-bit `>=` is two cases in 32-bit words); "" when they are not
// all ranges of the same argument.
std::string merged_ranges(filter::Arch arch, std::string_view syscall,
                          const std::vector<filter::ArgCase>& cases, uint32_t ret) {
  const Describer d{arch, syscall};
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  int arg = -1;
  for (const auto& k : cases) {
    if (k.ret != ret) continue;
    if (k.tests.empty()) return "";
    if (arg < 0) arg = k.tests.front().arg();
    for (const ArgTest& t : k.tests)
      if (t.arg() != arg) return "";
    auto r = d.interval(k.tests);
    if (!r) return "";
    ranges.push_back(*r);
  }
  if (ranges.size() < 2) return "";
  std::sort(ranges.begin(), ranges.end());
  std::vector<std::pair<uint64_t, uint64_t>> merged{ranges.front()};
  for (const auto& r : ranges) {
    auto& last = merged.back();
    if (last.second != ~uint64_t{0} && r.first <= last.second + 1)
      last.second = std::max(last.second, r.second);
    else if (r.first > last.second)
      merged.push_back(r);
  }
  std::string out;
  const std::string name = "args[" + std::to_string(arg) + "]";
  for (const auto& [lo, hi] : merged)
    out += (out.empty() ? "" : ", or ") + d.range(arg, name, lo, hi);
  return out;
}

}  // namespace

std::string hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof(buf), "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

Conditions conditions_of(filter::ArgVerdicts v) {
  Conditions c;
  std::map<uint32_t, size_t> count;
  for (const auto& k : v.cases) count[k.ret]++;
  // Ties go to the verdict of the last case: the path of every "false".
  if (!v.cases.empty()) c.otherwise = v.cases.back().ret;
  for (const auto& [ret, n] : count)
    if (n > count[c.otherwise]) c.otherwise = ret;
  c.verdicts = std::move(v);
  return c;
}

std::string describe(filter::Arch arch, std::string_view syscall,
                     const std::vector<ArgTest>& tests) {
  const Describer d{arch, syscall};
  std::map<int, std::vector<ArgTest>> by_arg;
  for (const ArgTest& t : tests) by_arg[t.arg()].push_back(t);
  std::string out;
  for (const auto& [arg, ts] : by_arg) {
    const std::string s = d.arg_tests(arg, ts);
    if (!s.empty()) out += (out.empty() ? "" : " and ") + s;
  }
  return out.empty() ? "always" : out;
}

std::string to_text(filter::Arch arch, std::string_view syscall, const Conditions& c) {
  // Verdicts in the order their first case comes in the program.
  std::vector<uint32_t> order;
  for (const auto& k : c.verdicts.cases)
    if (k.ret != c.otherwise && std::find(order.begin(), order.end(), k.ret) == order.end())
      order.push_back(k.ret);
  std::string out;
  for (uint32_t ret : order) {
    std::string when = merged_ranges(arch, syscall, c.verdicts.cases, ret);
    if (when.empty())
      for (const auto& k : c.verdicts.cases)
        if (k.ret == ret) when += (when.empty() ? "" : ", or ") + describe(arch, syscall, k.tests);
    out += filter::action_name(ret) + " if " + when + (order.size() > 1 ? "; " : ", ");
  }
  return out + filter::action_name(c.otherwise) + " otherwise";
}

nlohmann::json to_json(filter::Arch arch, std::string_view syscall, const Conditions& c) {
  nlohmann::json j{{"otherwise", filter::action_name(c.otherwise)},
                   {"text", to_text(arch, syscall, c)},
                   {"cases", nlohmann::json::array()}};
  static const char* const kRel[] = {"==", "!=", ">", "<=", ">=", "<", "any_set", "none_set"};
  for (const auto& k : c.verdicts.cases) {
    nlohmann::json tests = nlohmann::json::array();
    for (const ArgTest& t : k.tests)
      tests.push_back({{"arg", t.arg()},
                       {"half", t.upper() ? "hi" : "lo"},
                       {"mask", hex(t.mask)},
                       {"op", kRel[static_cast<int>(t.rel)]},
                       {"value", hex(t.value)}});
    nlohmann::json lowest = nlohmann::json::array(), highest = nlohmann::json::array();
    for (int i = 0; i < 6; i++) {
      lowest.push_back(hex(k.lowest[i]));
      highest.push_back(hex(k.highest[i]));
    }
    j["cases"].push_back({{"verdict", filter::action_name(k.ret)},
                          {"when", describe(arch, syscall, k.tests)},
                          {"tests", tests},
                          {"lowest_args", lowest},
                          {"highest_args", highest}});
  }
  return j;
}

}  // namespace stubfuzz::explain
