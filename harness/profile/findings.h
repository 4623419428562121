// Classes of findings: what the oracle names a breach, what the attack matrix
// has a row for, and the shortest program that shows each. A profile
// documents the classes it is known to have (Profile::known_findings).
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "profile/claim.h"

namespace stubfuzz {

struct KnownFinding {
  std::string id;          // "close-listener-from-stub-page"
  ClaimId claim;           // the claim it breaks
  std::string summary;     // one line
  std::string reproducer;  // the program, as text
  // A property of the kernel under test rather than of the profile: PRESENT
  // on kernels that have it, ABSENT on the others (kernel/facts.h says which).
  bool kernel_specific = false;
};

// Every class the oracle knows, in the attack matrix's row order.
std::span<const KnownFinding> finding_classes();
// nullptr for an unknown id.
const KnownFinding* finding_class(std::string_view id);

// Class ids the oracle uses (the registry has their text).
namespace finding {
inline constexpr std::string_view kUnsanctionedMmap = "unsanctioned-mmap";
inline constexpr std::string_view kMonitorHang = "monitor-hang";
inline constexpr std::string_view kMunmapStubRegion = "munmap-outside-guest";
inline constexpr std::string_view kStubStall = "stub-stall";
inline constexpr std::string_view kCloseListener = "close-listener-from-stub-page";
inline constexpr std::string_view kSelfClose = "self-close";
inline constexpr std::string_view kBelowEdge = "syscall-just-below-stub-page";
inline constexpr std::string_view kListenerIoctl = "listener-ioctl";
inline constexpr std::string_view kOutsideExecutes = "outside-executes";
inline constexpr std::string_view kOffAllowlist = "off-allowlist";
inline constexpr std::string_view kListenerLost = "listener-lost";
// Upstream seccomp runs x86-64 uretprobe (335) and uprobe (336) unfiltered.
inline constexpr std::string_view kSeccompExemption = "uprobe-calls-exempt-from-seccomp";
inline constexpr std::string_view kModelDisagrees = "model-disagrees";
}  // namespace finding

}  // namespace stubfuzz
