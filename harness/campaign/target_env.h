// The environment contract between `stubfuzz fuzz|matrix` (and
// scripts/check-seeded-holes) and the fuzz target fuzzers/fuzz_stub_syscalls:
// the engines pass no arguments through, so the profile and where to write
// travel as variables, each named here once.
#pragma once

namespace stubfuzz::campaign::env {

inline constexpr const char* kProfile = "STUBFUZZ_PROFILE";     // a built-in profile's name
inline constexpr const char* kFilter = "STUBFUZZ_FILTER";       // or a filter file...
inline constexpr const char* kClaims = "STUBFUZZ_CLAIMS";       // ...judged by this profile
inline constexpr const char* kUmlTree = "STUBFUZZ_UML_TREE";    // or UML's stub from a tree
inline constexpr const char* kUnsafe = "STUBFUZZ_UNSAFE";       // "1": stubs without the sandbox
inline constexpr const char* kStatsDir = "STUBFUZZ_STATS_DIR";  // fuzz/stats.h's StatsWriter
// Set by `stubfuzz matrix`: judge every claim, never stop, and write each
// class's first program (campaign/found.h).
inline constexpr const char* kMatrixDir = "STUBFUZZ_MATRIX_DIR";
// "1": the custom mutator makes no replacement from the filter's compares
// (fuzzers/mutator.h), to measure what the engines do with them alone
// (scripts/arg-hole-trials --engines-only). Inherited from stubfuzz's own
// environment.
inline constexpr const char* kNoReplacement = "STUBFUZZ_NO_REPLACEMENT";
// "1": each worker binds itself to a free CPU (kernel/sys.h
// bind_to_free_cpu), as afl-fuzz does. Set by `stubfuzz fuzz` when it runs
// as many libFuzzer jobs as there are CPUs, unless the user's environment
// has STUBFUZZ_NO_AFFINITY=1 (as AFL_NO_AFFINITY for afl-fuzz).
inline constexpr const char* kBindCpu = "STUBFUZZ_BIND_CPU";
inline constexpr const char* kNoAffinity = "STUBFUZZ_NO_AFFINITY";

}  // namespace stubfuzz::campaign::env
