// What the running kernel is, as far as it changes an outcome: its ABIs, the
// calls seccomp never sees, the listener features it accepts. Probed once per
// process by running each candidate for real in a forked child (never from a
// version table), and an input of every prediction, like the filter itself.
// Tests build their own Facts to cover kernels the machine is not.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace stubfuzz::kernel {

inline constexpr uint32_t kAuditArchI386 = 0x40000003;    // AUDIT_ARCH_I386
inline constexpr uint32_t kAuditArchX86_64 = 0xc000003e;  // AUDIT_ARCH_X86_64
// x86-64 uretprobe and uprobe: what upstream seccomp lets through unfiltered.
inline constexpr uint32_t kUretprobeNr = 335, kUprobeNr = 336;

// A call the kernel runs before seccomp sees it (upstream: x86-64 uretprobe
// 335 and uprobe 336, native arch only), with what it did under a filter
// that denies everything.
struct Exemption {
  uint32_t nr = 0;
  std::string effect;  // "killed by SIGILL", "returned -6"
};

struct Facts {
  std::string release;  // uname -r
  // int $0x80 reaches the syscall path; without it the kernel raises SIGSEGV
  // before seccomp sees the call (ia32_emulation=0, some guests).
  bool i386_abi = true;
  // x32 calls (nr | 0x40000000) run; without it they pass the filter and
  // return -ENOSYS.
  bool x32_abi = false;
  std::vector<Exemption> exempt_x86_64;
  std::vector<Exemption> exempt_i386;
  bool tsync_esrch = true;   // NEW_LISTENER|TSYNC accepted with TSYNC_ESRCH
  bool sync_wake_up = true;  // SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (6.6)
  // NOTIF_RECV on a listener whose filter has no users left fails with
  // ENOENT (6.11); before, it blocks until a signal.
  bool recv_after_hangup = true;
  bool pidfd_getfd = true;
  bool user_namespaces = true;
  // How long the x86-64 exemption scan took (forks, 512 filtered calls,
  // reaps): what this machine really does, for bounds that must hold on a
  // slow one (an emulated guest) without widening them everywhere.
  int64_t scan_ns = 0;
  // Probe failures (a fork that failed...): the fact keeps its default.
  std::vector<std::string> errors;

  // How much slower than an ordinary host this machine runs the scan (>= 1,
  // at most 64): an emulated guest is 10-60x. Every harness time bound is
  // multiplied by it (paced()), so bounds hold there and stay as tight here.
  double pace() const;

  // Whether seccomp never sees `nr` of `audit_arch` (inline: the model in
  // filter/ asks it without linking the probes).
  const Exemption* exemption(uint32_t audit_arch, uint32_t nr) const {
    for (const auto& e : audit_arch == kAuditArchI386 ? exempt_i386 : exempt_x86_64)
      if (e.nr == nr) return &e;
    return nullptr;
  }
  bool exempt(uint32_t audit_arch, uint32_t nr) const { return exemption(audit_arch, nr); }
  // The kernel has upstream's uprobe exemption (either call).
  bool exempts_uprobe_calls() const {
    return exempt(kAuditArchX86_64, kUretprobeNr) || exempt(kAuditArchX86_64, kUprobeNr);
  }
  // "x86_64 335 (killed by SIGILL), 336 (returned -6)" or "none".
  std::string describe_exemptions() const;
  // One sentence for evidence: "this kernel runs x86_64 335 (...) without
  // the filter" or "this kernel filters every call".
  std::string exemption_evidence() const;
};

// The running kernel's facts, probed on first use (a few milliseconds),
// then cached for the life of the process.
const Facts& facts();
// Probes again, uncached.
Facts probe_facts();

// `base` on this machine: base × facts().pace().
std::chrono::milliseconds paced(std::chrono::milliseconds base);

// The highest syscall number probed per ABI, and the exit status of a probe
// child that ran every candidate.
inline constexpr uint32_t kProbedNrs = 512;

}  // namespace stubfuzz::kernel
