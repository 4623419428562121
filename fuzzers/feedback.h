// Feedback for the engines beyond code coverage of the harness, which says
// little here: which filter instructions ran, which (syscall class, site,
// ABI, action) tuples were seen, and the comparisons the filter made, so
// constants like SECCOMP_IOCTL_NOTIF_SEND or a page boundary are solved fast.
//   libFuzzer: __libfuzzer_extra_counters; compares through
//              __sanitizer_cov_trace_cmp4/8 and __sanitizer_weak_hook_memcmp
//              into its table of recent compares.
//   AFL++:     its shared map, __afl_area_ptr (it ignores libFuzzer's
//              section); compares through the same __sanitizer_cov_trace_cmp*
//              and __cmplog_rtn_hook_n, which its runtime records in the
//              cmplog map when afl-fuzz runs the target with -c.
// Each comparison is given twice: as the filter saw it (A against K), and
// in the input's own bytes (fuzz/input_compares.h), which is what the
// engines' input-to-state replacement can use.
#pragma once

#include <linux/filter.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <span>
#include <unordered_map>
#include <utility>
#include <vector>

#include "fuzz/input_compares.h"
#include "fuzz/oracle.h"

extern "C" {
__attribute__((weak)) void __sanitizer_cov_trace_cmp2(uint16_t, uint16_t);
__attribute__((weak)) void __sanitizer_cov_trace_cmp4(uint32_t, uint32_t);
__attribute__((weak)) void __sanitizer_cov_trace_cmp8(uint64_t, uint64_t);
// libFuzzer's (its memcmp interceptor hook); AFL++'s runtime has none.
__attribute__((weak)) void __sanitizer_weak_hook_memcmp(void* caller_pc, const void* s1,
                                                        const void* s2, size_t n, int result);
// AFL++'s routine hook (afl-compiler-rt); libFuzzer has none.
__attribute__((weak)) void __cmplog_rtn_hook_n(uint8_t* ptr1, uint8_t* ptr2, uint64_t len);
}

#ifdef __AFL_COMPILER
#include <dlfcn.h>
// afl-clang-fast's pass adds its own global named __afl_area_ptr to every
// module and, if the source declares one too, renames its own and leaves it
// unresolved. So the map is looked up at run time (the AFL build links with
// -rdynamic).
inline uint8_t** afl_area_slot() {
  static uint8_t** slot = static_cast<uint8_t**>(dlsym(RTLD_DEFAULT, "__afl_area_ptr"));
  return slot;
}
inline uint32_t afl_map_size() {
  static auto* size = static_cast<uint32_t*>(dlsym(RTLD_DEFAULT, "__afl_map_size"));
  return size && *size ? *size : 65536;
}
#endif

namespace stubfuzz::fuzz {

inline constexpr size_t kExtraCounters = 1 << 14;
__attribute__((
    section("__libfuzzer_extra_counters"))) inline uint8_t g_extra_counters[kExtraCounters];

inline void bump(uint32_t feature) {
  const uint32_t h = feature * 2654435761u;
  g_extra_counters[h % kExtraCounters]++;
#ifdef __AFL_COMPILER
  if (uint8_t** area = afl_area_slot(); area && *area) {
    const uint32_t size = afl_map_size();
    // Stay clear of the instrumented edges at the start of the map.
    (*area)[size / 2 + h % (size / 2)]++;
  }
#endif
}

// One call site per filter pc bucket: libFuzzer keys its comparison tables by
// the caller's address, so distinct sites keep distinct constants apart.
template <int N>
__attribute__((noinline)) void trace_cmp_site(uint32_t a, uint32_t b) {
  if (__sanitizer_cov_trace_cmp4) __sanitizer_cov_trace_cmp4(a, b);
}
using CmpSite = void (*)(uint32_t, uint32_t);
template <int... I>
constexpr auto make_sites(std::integer_sequence<int, I...>) {
  return std::array<CmpSite, sizeof...(I)>{&trace_cmp_site<I>...};
}
inline constexpr auto kCmpSites = make_sites(std::make_integer_sequence<int, 64>{});

inline uint64_t little_endian(const CompareBytes& b) {
  uint64_t v = 0;
  for (size_t i = 0; i < b.size() && i < 8; i++) v |= uint64_t{b[i]} << (8 * i);
  return v;
}

// The input's bytes against the bytes that would take the other side, as the
// widest comparison each engine turns into a replacement: integers of 2, 4 or
// 8 bytes, else a memcmp (libFuzzer) or a routine compare (AFL++, <= 31 bytes).
template <int N>
__attribute__((noinline)) void input_cmp_site(const InputCompare& c) {
  const size_t n = c.seen.size();
  if (n == 4 && __sanitizer_cov_trace_cmp4) {
    __sanitizer_cov_trace_cmp4(static_cast<uint32_t>(little_endian(c.seen)),
                               static_cast<uint32_t>(little_endian(c.wanted)));
    return;
  }
  if (n == 8 && __sanitizer_cov_trace_cmp8) {
    __sanitizer_cov_trace_cmp8(little_endian(c.seen), little_endian(c.wanted));
    return;
  }
  if (n == 2 && __sanitizer_cov_trace_cmp2)
    __sanitizer_cov_trace_cmp2(static_cast<uint16_t>(little_endian(c.seen)),
                               static_cast<uint16_t>(little_endian(c.wanted)));
  if (__sanitizer_weak_hook_memcmp)
    __sanitizer_weak_hook_memcmp(reinterpret_cast<void*>(&input_cmp_site<N>), c.seen.data(),
                                 c.wanted.data(), n,
                                 std::memcmp(c.seen.data(), c.wanted.data(), n));
  if (__cmplog_rtn_hook_n && n != 2)
    __cmplog_rtn_hook_n(const_cast<uint8_t*>(c.seen.data()), const_cast<uint8_t*>(c.wanted.data()),
                        n);
}
using InputCmpSite = void (*)(const InputCompare&);
template <int... I>
constexpr auto make_input_sites(std::integer_sequence<int, I...>) {
  return std::array<InputCmpSite, sizeof...(I)>{&input_cmp_site<I>...};
}
inline constexpr auto kInputCmpSites = make_input_sites(std::make_integer_sequence<int, 64>{});

// A comparison in the input's bytes, with the filter instruction it came from.
struct SitedCompare {
  uint16_t pc;
  InputCompare compare;
  uint32_t other_side = 0;  // side_key() of the side it asks for
};

// A jump side as seen from one kind of site: the claims care where a call
// comes from, so a side taken from below the page is not taken from the page.
inline uint32_t side_key(SiteKind site, uint16_t pc, bool taken) {
  return (static_cast<uint32_t>(site) * (BPF_MAXINSNS + 1) + pc) * 2 + (taken ? 1 : 0);
}

// The jump sides (side_key) of the filter under test taken so far.
inline std::vector<bool>& sides_taken() {
  static std::vector<bool> sides(2 * (BPF_MAXINSNS + 1) * static_cast<size_t>(SiteKind::kCount),
                                 false);
  return sides;
}
// Its other side has never been taken in this process: what a replacement
// most needs to reach.
inline bool fresh(const SitedCompare& c) { return !sides_taken()[c.other_side]; }

// Hands the compares to the engines. Called last in a run, so that the
// harness's own instrumented compares do not push them out of libFuzzer's
// small tables before the next mutation.
inline void emit_compares(const std::vector<SitedCompare>& compares) {
  // The fresh ones last, so that they are the most recent in the tables.
  for (bool fresh : {false, true})
    for (const auto& c : compares)
      if (stubfuzz::fuzz::fresh(c) == fresh)
        kInputCmpSites[c.pc % kInputCmpSites.size()](c.compare);
}

// The compares each recent input made, by the input's hash: the custom
// mutator (mutator.h) applies one to the very bytes they were made on.
inline uint64_t input_hash(std::span<const uint8_t> input) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (uint8_t b : input) h = (h ^ b) * 1099511628211ull;
  return h ^ input.size();
}
inline std::unordered_map<uint64_t, std::vector<SitedCompare>>& remembered_compares() {
  static std::unordered_map<uint64_t, std::vector<SitedCompare>> m;
  return m;
}
// Inputs with one compare toward a never-taken side already applied, for the
// custom mutator to hand out next: the engine's scheduler may not pick the
// input they came from again for a long while in a big corpus.
struct Candidate {
  uint32_t side;
  std::vector<uint8_t> bytes;
};
inline std::deque<Candidate>& candidates() {
  static std::deque<Candidate> q;
  return q;
}
inline constexpr size_t kMaxCandidates = 256, kCandidatesPerSide = 4;

inline void remember_compares(std::span<const uint8_t> input,
                              const std::vector<SitedCompare>& compares) {
  if (compares.empty()) return;
  auto& m = remembered_compares();
  if (m.size() >= (1u << 16)) m.clear();  // bounded; the corpus is re-run often enough
  m[input_hash(input)] = compares;
  auto& q = candidates();
  for (const auto& c : compares) {
    if (!fresh(c) || q.size() >= kMaxCandidates) continue;
    const auto same = std::count_if(q.begin(), q.end(),
                                    [&](const Candidate& k) { return k.side == c.other_side; });
    if (static_cast<size_t>(same) >= kCandidatesPerSide) continue;
    Candidate k{c.other_side, {input.begin(), input.end()}};
    std::copy(c.compare.wanted.begin(), c.compare.wanted.end(),
              k.bytes.begin() + static_cast<long>(c.compare.offset));
    q.push_back(std::move(k));
  }
}

// The next candidate whose side is still untaken, into data; its size, or 0.
inline size_t next_candidate(uint8_t* data, size_t max_size) {
  auto& q = candidates();
  while (!q.empty()) {
    Candidate k = std::move(q.front());
    q.pop_front();
    if (sides_taken()[k.side] || k.bytes.size() > max_size) continue;
    std::copy(k.bytes.begin(), k.bytes.end(), data);
    return k.bytes.size();
  }
  return 0;
}

// `input` and `spans`: the bytes `p` was decoded from and where each record
// lies in them (no spans for a text-form input). Returns the filter's
// compares in the input's bytes, for emit_compares and remember_compares.
inline std::vector<SitedCompare> report_feedback(std::span<const uint8_t> input,
                                                 const std::vector<RecordSpan>& spans,
                                                 const Program& p, const Execution& ex,
                                                 const Judgement& j) {
  std::vector<SitedCompare> compares;
  auto& sides = sides_taken();
  for (size_t i = 0; i < j.records.size() && i < p.records.size(); i++)
    for (const auto& c : j.records[i].model.comparisons)
      sides[side_key(p.records[i].site.kind, c.pc, c.taken)] = true;
  for (size_t i = 0; i < j.records.size() && i < ex.records.size(); i++) {
    const auto& v = j.records[i];
    const auto& o = ex.records[i];
    for (uint16_t pc : v.model.trace) bump(0x10000u | pc);
    for (const auto& c : v.model.comparisons) {
      kCmpSites[c.pc % kCmpSites.size()](c.value, c.operand);
      bump(0x20000u | (c.pc << 1) | (c.taken ? 1 : 0));
      if (i >= spans.size()) continue;
      const uint32_t other = side_key(p.records[i].site.kind, c.pc, !c.taken);
      for (auto& ic : input_compares(input, spans[i], p.records[i], v.data, c))
        compares.push_back({c.pc, std::move(ic), other});
    }
    const uint32_t tuple = (static_cast<uint32_t>(o.resolved.nr) & 0x1ff) << 8 |
                           static_cast<uint32_t>(p.records[i].site.kind) << 5 |
                           (o.resolved.abi << 4) | static_cast<uint32_t>(o.kind) << 1;
    bump(0x40000u | tuple);
  }
  return compares;
}

}  // namespace stubfuzz::fuzz
