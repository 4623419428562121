#include "profile/claim.h"

#include <array>

namespace stubfuzz {

namespace {
constexpr std::array kClaims = {
    ClaimInfo{ClaimId::kListenerFd1, "listener-fd-1",
              "the listener is fd 1 in the stub, and what the monitor pulls is a "
              "seccomp listener"},
    ClaimInfo{ClaimId::kNoListenerIoctl, "no-listener-ioctl",
              "no ioctl on the listener ever executes in the stub"},
    ClaimInfo{ClaimId::kOutsideTraps, "outside-traps",
              "no syscall from outside the stub page executes; each delivers SIGSYS"},
    ClaimInfo{ClaimId::kStubAllowlist, "stub-allowlist",
              "from the stub page only the allowed (arch, syscall) pairs execute"},
    ClaimInfo{ClaimId::kListenerSurvives, "listener-survives",
              "the monitor's listener keeps working while the stub lives and "
              "reports hang-up when it dies"},
    ClaimInfo{ClaimId::kNoSelfClose, "no-self-close", "the stub cannot close fd 0 or fd 1"},
    ClaimInfo{ClaimId::kMmapValidated, "mmap-validated",
              "no stub mmap takes effect unless the monitor approved it"},
    ClaimInfo{ClaimId::kMunmapValidated, "munmap-validated",
              "no stub munmap takes effect unless the monitor approved it"},
    ClaimInfo{ClaimId::kNoMonitorHang, "no-monitor-hang",
              "no stub behaviour makes a monitor step block past a bound"},
    ClaimInfo{ClaimId::kStallKilled, "stall-killed",
              "a stub that stops reporting is killed within a bound"},
    ClaimInfo{ClaimId::kModelAgrees, "model-agrees",
              "each syscall's observed action equals the filter model's"},
};
}  // namespace

const ClaimInfo& claim_info(ClaimId id) {
  for (const auto& c : kClaims)
    if (c.id == id) return c;
  return kClaims[0];
}

std::optional<ClaimId> claim_by_name(std::string_view name) {
  for (const auto& c : kClaims)
    if (c.name == name) return c.id;
  return std::nullopt;
}

}  // namespace stubfuzz
