// Feedback for the engines beyond code coverage of the harness, which says
// little here: which filter instructions ran, which (syscall class, site,
// ABI, action) tuples were seen, and the comparisons the filter made, so
// constants like SECCOMP_IOCTL_NOTIF_SEND or a page boundary are solved fast.
//   libFuzzer: __libfuzzer_extra_counters and __sanitizer_cov_trace_cmp*.
//   AFL++:     its shared map, __afl_area_ptr (it ignores libFuzzer's section).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <utility>

#include "fuzz/oracle.h"

extern "C" {
__attribute__((weak)) void __sanitizer_cov_trace_cmp4(uint32_t, uint32_t);
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

inline void report_feedback(const Program& p, const Execution& ex, const Judgement& j) {
  for (size_t i = 0; i < j.records.size() && i < ex.records.size(); i++) {
    const auto& v = j.records[i];
    const auto& o = ex.records[i];
    for (uint16_t pc : v.model.trace) bump(0x10000u | pc);
    for (const auto& c : v.model.comparisons) {
      kCmpSites[c.pc % kCmpSites.size()](c.value, c.operand);
      bump(0x20000u | (c.pc << 1) | (c.taken ? 1 : 0));
    }
    const uint32_t tuple = (static_cast<uint32_t>(o.resolved.nr) & 0x1ff) << 8 |
                           static_cast<uint32_t>(p.records[i].site.kind) << 5 |
                           (o.resolved.abi << 4) | static_cast<uint32_t>(o.kind) << 1;
    bump(0x40000u | tuple);
  }
}

}  // namespace stubfuzz::fuzz
