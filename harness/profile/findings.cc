#include "profile/findings.h"

#include <vector>

namespace stubfuzz {

namespace {

std::vector<KnownFinding> make_classes() {
  using namespace finding;
  std::vector<KnownFinding> c = {
      {std::string(kUnsanctionedMmap), ClaimId::kMmapValidated,
       "the stub maps what the monitor never queued (here: fresh anonymous memory)",
       "stub mmap(0, 4096, 1, 34, 0xffffffffffffffff, 0)"},
      {std::string(kMonitorHang), ClaimId::kNoMonitorHang,
       "a stub mmap outside a queued batch leaves a notification the monitor never "
       "reads: the stub waits for the monitor, the monitor for the stub",
       "stub mmap(0, 4096, 1, 34, 0xffffffffffffffff, 0)"},
      {std::string(kMunmapStubRegion), ClaimId::kMunmapValidated,
       "the stub unmaps memory that is not guest memory below the stub (here: its own "
       "code page)",
       "stub munmap(STUB, 4096)"},
      {std::string(kStubStall), ClaimId::kStallKilled,
       "the stub stops making progress (here: spins in guest code) and nothing kills it",
       "outside spin"},
      {std::string(kCloseListener), ClaimId::kNoSelfClose,
       "close is allowlisted, so close(1) from the stub page executes and the stub's copy of "
       "the listener is gone",
       "stub close(LISTENER)"},
      {std::string(kSelfClose), ClaimId::kNoSelfClose, "the stub closes its control socket (fd 0)",
       "stub close(SOCKET)"},
      {std::string(kBelowEdge), ClaimId::kOutsideTraps,
       "the filter checks the address after the syscall instruction, so an instruction in the "
       "last 2 bytes before the stub page counts as the page's",
       "at(STUB-2) mmap(0, 4096, 1, 34, 0xffffffffffffffff, 0)"},
      {std::string(kListenerIoctl), ClaimId::kNoListenerIoctl,
       "an ioctl on the listener executes in the stub (self-approval)",
       "stub ioctl(LISTENER, SECCOMP_IOCTL_NOTIF_ID_VALID, &scratch)"},
      {std::string(kOutsideExecutes), ClaimId::kOutsideTraps,
       "a syscall from outside the stub page executes", "outside getpid()"},
      {std::string(kOffAllowlist), ClaimId::kStubAllowlist,
       "a syscall off the allowlist runs from the stub page", "stub getpid()"},
      {std::string(kListenerLost), ClaimId::kListenerSurvives,
       "the monitor's listener stops working while the stub lives", ""},
      {std::string(kSeccompExemption), ClaimId::kOutsideTraps,
       "upstream seccomp lets x86-64 uretprobe (335) and uprobe (336) through without running "
       "the filter (so that uprobes work under deny-by-default policies; backported to stable "
       "kernels for 335): where the kernel has it, they execute from anywhere, the stub page and "
       "outside it, and no filter can stop them",
       "outside syscall_335()\noutside syscall_336()", /*kernel_specific=*/true},
      {std::string(kModelDisagrees), ClaimId::kModelAgrees,
       "the kernel did not do what the filter model predicts", ""},
  };
  return c;
}

}  // namespace

std::span<const KnownFinding> finding_classes() {
  // Never destroyed: fuzz targets judge from a pool thread until exit.
  static const auto& classes = *new std::vector<KnownFinding>(make_classes());
  return classes;
}

const KnownFinding* finding_class(std::string_view id) {
  for (const auto& c : finding_classes())
    if (c.id == id) return &c;
  return nullptr;
}

}  // namespace stubfuzz
