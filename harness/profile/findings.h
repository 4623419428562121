// Classes of findings: what the oracle names a breach, what the attack matrix
// has a row for, and the shortest program that shows each. A profile
// documents the classes it is known to have (Profile::known_findings).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "profile/claim.h"

namespace stubfuzz {

// Every class the oracle can name, in the attack matrix's row order.
enum class FindingId : uint8_t {
  kUnsanctionedMmap,
  kMonitorHang,
  kMunmapStubRegion,
  kStubStall,
  kCloseListener,
  kSelfClose,
  kBelowEdge,
  kListenerIoctl,
  kOutsideExecutes,
  kOffAllowlist,
  kListenerLost,
  kSeccompExemption,  // upstream seccomp runs x86-64 uretprobe and uprobe unfiltered
  kModelDisagrees,
};
// "close-listener-from-stub-page": the name files and reports use.
std::string_view to_string(FindingId id);
std::optional<FindingId> finding_by_name(std::string_view name);

struct KnownFinding {
  FindingId id;
  ClaimId claim;           // the claim it breaks
  std::string summary;     // one line
  std::string reproducer;  // the program, as text
  // A property of the kernel under test rather than of the profile: PRESENT
  // on kernels that have it, ABSENT on the others (kernel/facts.h says which).
  bool kernel_specific = false;

  std::string_view name() const { return to_string(id); }
};

// Every class, in FindingId order.
std::span<const KnownFinding> finding_classes();
const KnownFinding& finding_class(FindingId id);
// nullptr for an unknown name.
const KnownFinding* finding_class(std::string_view name);

// The ids, as the oracle and the profiles spell them.
namespace finding {
using enum FindingId;
}  // namespace finding

}  // namespace stubfuzz
