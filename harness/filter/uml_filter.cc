#include "filter/uml_filter.h"

#include <linux/audit.h>
#include <linux/seccomp.h>
#include <sys/syscall.h>

#include <cstddef>
#include <stdexcept>

#include "stub_abi.h"

namespace stubfuzz::filter {

std::vector<uint32_t> uml_stub_allowlist() {
  return {SYS_futex,  SYS_recvmsg,    SYS_close,       SYS_mmap,
          SYS_munmap, SYS_arch_prctl, SYS_rt_sigreturn};
}

Program uml_stub_filter(uint64_t stub_start, const std::vector<uint32_t>& allowlist,
                        const std::vector<uint32_t>& notified) {
  if (allowlist.empty() || allowlist.size() + notified.size() > 200)
    throw std::invalid_argument("uml_stub_filter: allowlist size out of range");
  const uint32_t ip = offsetof(seccomp_data, instruction_pointer);
  Builder b;
  b.load_abs(ip + 4)  // upper half of IP
      .jeq(static_cast<uint32_t>(stub_start >> 32), 0, "outside")
      .load_abs(ip)       // lower half
      .and_k(0xfffff000)  // its page
      .jeq(static_cast<uint32_t>(stub_start) & 0xfffff000, "stub_page", 0)
      .at("outside")
      .ret(SECCOMP_RET_TRAP)
      .at("stub_page")
      .load_abs(offsetof(seccomp_data, arch))
      .jeq(AUDIT_ARCH_X86_64, "x86_64", 0)
      .ret(SECCOMP_RET_KILL_PROCESS)  // foreign arch
      .at("x86_64")
      .load_abs(offsetof(seccomp_data, nr));
  // Without notified calls this is UML's program exactly.
  for (uint32_t nr : allowlist) b.jeq(nr, "allow", 0);
  for (uint32_t nr : notified) b.jeq(nr, "notify", 0);
  b.ret(SECCOMP_RET_KILL_PROCESS);  // not allowed from the stub page
  if (!notified.empty()) b.at("notify").ret(SECCOMP_RET_USER_NOTIF);
  return b.at("allow").ret(SECCOMP_RET_ALLOW).build();
}

Program hardened_stub_filter(uint64_t stub_start) {
  const uint32_t ip = offsetof(seccomp_data, instruction_pointer);
  const uint32_t arch = offsetof(seccomp_data, arch);
  const uint32_t nr = offsetof(seccomp_data, nr);
  const uint32_t arg0 = offsetof(seccomp_data, args);  // low half: close takes an int
  // The kernel reports the address after the 2-byte instruction.
  const auto gate = static_cast<uint32_t>(stub_start + STUB_GATE_X86_64_OFFSET + 2);
  const auto restorer = static_cast<uint32_t>(stub_start + STUB_RESTORER_SYSCALL_OFFSET + 2);
  Builder b;
  b.load_abs(ip + 4)
      .jeq(static_cast<uint32_t>(stub_start >> 32), 0, "trap")
      .load_abs(ip)
      .jeq(gate, "gate", 0)
      .jeq(restorer, "restorer", 0)
      .at("trap")
      .ret(SECCOMP_RET_TRAP)  // not one of the stub's two instructions
      // The restorer's instruction: rt_sigreturn only.
      .at("restorer")
      .load_abs(arch)
      .jeq(AUDIT_ARCH_X86_64, 0, "kill_restorer")
      .load_abs(nr)
      .jeq(SYS_rt_sigreturn, 0, "kill_restorer")
      .ret(SECCOMP_RET_ALLOW)
      .at("kill_restorer")
      .ret(SECCOMP_RET_KILL_PROCESS)
      // The gate.
      .at("gate")
      .load_abs(arch)
      .jeq(AUDIT_ARCH_X86_64, 0, "kill")
      .load_abs(nr)
      .jeq(SYS_futex, "allow", 0)
      .jeq(SYS_recvmsg, "allow", 0)
      .jeq(SYS_arch_prctl, "allow", 0)
      .jeq(SYS_mmap, "notify", 0)
      .jeq(SYS_munmap, "notify", 0)
      .jeq(SYS_close, 0, "kill")
      .load_abs(arg0)
      .jge(2, "allow", 0)  // close only for fd >= 2
      .at("kill")
      .ret(SECCOMP_RET_KILL_PROCESS)
      .at("notify")
      .ret(SECCOMP_RET_USER_NOTIF)
      .at("allow")
      .ret(SECCOMP_RET_ALLOW);
  return b.build();
}

}  // namespace stubfuzz::filter
