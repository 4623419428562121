#include "profile/findings.h"

#include <vector>

namespace stubfuzz {

namespace {

std::vector<KnownFinding> make_classes() {
  using namespace finding;
  std::vector<KnownFinding> c = {
      {kUnsanctionedMmap, ClaimId::kMmapValidated,
       "the stub maps what the monitor never queued (here: fresh anonymous memory)",
       "stub mmap(0, 4096, 1, 34, 0xffffffffffffffff, 0)"},
      {kMonitorHang, ClaimId::kNoMonitorHang,
       "a stub mmap outside a queued batch leaves a notification the monitor never "
       "reads: the stub waits for the monitor, the monitor for the stub",
       "stub mmap(0, 4096, 1, 34, 0xffffffffffffffff, 0)"},
      {kMunmapStubRegion, ClaimId::kMunmapValidated,
       "the stub unmaps memory that is not guest memory below the stub (here: its own "
       "code page)",
       "stub munmap(STUB, 4096)"},
      {kStubStall, ClaimId::kStallKilled,
       "the stub stops making progress (here: spins in guest code) and nothing kills it",
       "outside spin"},
      {kCloseListener, ClaimId::kNoSelfClose,
       "close is allowlisted, so close(1) from the stub page executes and the stub's copy of "
       "the listener is gone",
       "stub close(LISTENER)"},
      {kSelfClose, ClaimId::kNoSelfClose, "the stub closes its control socket (fd 0)",
       "stub close(SOCKET)"},
      {kBelowEdge, ClaimId::kOutsideTraps,
       "the filter checks the address after the syscall instruction, so an instruction in the "
       "last 2 bytes before the stub page counts as the page's",
       "at(STUB-2) mmap(0, 4096, 1, 34, 0xffffffffffffffff, 0)"},
      {kListenerIoctl, ClaimId::kNoListenerIoctl,
       "an ioctl on the listener executes in the stub (self-approval)",
       "stub ioctl(LISTENER, SECCOMP_IOCTL_NOTIF_ID_VALID, &scratch)"},
      {kOutsideExecutes, ClaimId::kOutsideTraps, "a syscall from outside the stub page executes",
       "outside getpid()"},
      {kOffAllowlist, ClaimId::kStubAllowlist,
       "a syscall off the allowlist runs from the stub page", "stub getpid()"},
      {kListenerLost, ClaimId::kListenerSurvives,
       "the monitor's listener stops working while the stub lives", ""},
      {kSeccompExemption, ClaimId::kOutsideTraps,
       "upstream seccomp lets x86-64 uretprobe (335) and uprobe (336) through without running "
       "the filter (so that uprobes work under deny-by-default policies; backported to stable "
       "kernels for 335): where the kernel has it, they execute from anywhere, the stub page and "
       "outside it, and no filter can stop them",
       "outside syscall_335()\noutside syscall_336()", /*kernel_specific=*/true},
      {kModelDisagrees, ClaimId::kModelAgrees,
       "the kernel did not do what the filter model predicts", ""},
  };
  return c;
}

// In FindingId order.
constexpr std::string_view kNames[] = {
    "unsanctioned-mmap",
    "monitor-hang",
    "munmap-outside-guest",
    "stub-stall",
    "close-listener-from-stub-page",
    "self-close",
    "syscall-just-below-stub-page",
    "listener-ioctl",
    "outside-executes",
    "off-allowlist",
    "listener-lost",
    "uprobe-calls-exempt-from-seccomp",
    "model-disagrees",
};

}  // namespace

std::string_view to_string(FindingId id) { return kNames[static_cast<size_t>(id)]; }

std::optional<FindingId> finding_by_name(std::string_view name) {
  for (size_t i = 0; i < std::size(kNames); i++)
    if (kNames[i] == name) return static_cast<FindingId>(i);
  return std::nullopt;
}

std::span<const KnownFinding> finding_classes() {
  // Never destroyed: fuzz targets judge from a pool thread until exit.
  static const auto& classes = *new std::vector<KnownFinding>(make_classes());
  return classes;
}

const KnownFinding& finding_class(FindingId id) {
  return finding_classes()[static_cast<size_t>(id)];
}

const KnownFinding* finding_class(std::string_view name) {
  const auto id = finding_by_name(name);
  return id ? &finding_class(*id) : nullptr;
}

}  // namespace stubfuzz
