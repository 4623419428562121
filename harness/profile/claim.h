// Claims: named invariants a profile makes and a test or fuzzer can break.
#pragma once

#include <optional>
#include <string_view>

namespace stubfuzz {

enum class ClaimId {
  kListenerFd1,
  kNoListenerIoctl,
  kOutsideTraps,
  kStubAllowlist,
  kListenerSurvives,
  kNoSelfClose,
  kMmapValidated,
  kMunmapValidated,
  kNoMonitorHang,
  kStallKilled,
  kModelAgrees,
};

struct ClaimInfo {
  ClaimId id;
  std::string_view name;     // "no-listener-ioctl"
  std::string_view meaning;  // one line
};

const ClaimInfo& claim_info(ClaimId id);
std::optional<ClaimId> claim_by_name(std::string_view name);

}  // namespace stubfuzz
