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
  const auto n = static_cast<uint8_t>(allowlist.size());
  const auto m = static_cast<uint8_t>(notified.size());
  const uint32_t ip = offsetof(seccomp_data, instruction_pointer);
  Builder b;
  b.load_abs(ip + 4)                                              // [0] upper half of IP
      .jeq(static_cast<uint32_t>(stub_start >> 32), 0, 3)         // [1] else TRAP
      .load_abs(ip)                                               // [2] lower half
      .and_k(0xfffff000)                                          // [3] its page
      .jeq(static_cast<uint32_t>(stub_start) & 0xfffff000, 1, 0)  // [4]
      .ret(SECCOMP_RET_TRAP)                                      // [5] outside the page
      .load_abs(offsetof(seccomp_data, arch))                     // [6]
      .jeq(AUDIT_ARCH_X86_64, 1, 0)                               // [7]
      .ret(SECCOMP_RET_KILL_PROCESS)                              // [8] foreign arch
      .load_abs(offsetof(seccomp_data, nr));                      // [9]
  // Allowed calls jump to the final ALLOW, notified ones to the USER_NOTIF
  // just before it; without notified calls this is UML's program exactly.
  const uint8_t past_notif = m ? 1 : 0;
  for (uint8_t i = 0; i < n; i++)
    b.jeq(allowlist[i], static_cast<uint8_t>(n + m + past_notif - i), 0);
  for (uint8_t j = 0; j < m; j++) b.jeq(notified[j], static_cast<uint8_t>(m - j), 0);
  b.ret(SECCOMP_RET_KILL_PROCESS);  // not allowed from the stub page
  if (m) b.ret(SECCOMP_RET_USER_NOTIF);
  b.ret(SECCOMP_RET_ALLOW);
  return std::move(b).build();
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
  b.load_abs(ip + 4)                                       // [0]
      .jeq(static_cast<uint32_t>(stub_start >> 32), 0, 3)  // [1] else TRAP
      .load_abs(ip)                                        // [2]
      .jeq(gate, 8, 0)                                     // [3] -> [12]
      .jeq(restorer, 1, 0)                                 // [4] -> [6]
      .ret(SECCOMP_RET_TRAP)                               // [5] not the stub's instruction
      // The restorer's instruction: rt_sigreturn only.
      .load_abs(arch)                 // [6]
      .jeq(AUDIT_ARCH_X86_64, 0, 3)   // [7] else KILL [11]
      .load_abs(nr)                   // [8]
      .jeq(SYS_rt_sigreturn, 0, 1)    // [9]
      .ret(SECCOMP_RET_ALLOW)         // [10]
      .ret(SECCOMP_RET_KILL_PROCESS)  // [11]
      // The gate.
      .load_abs(arch)                 // [12]
      .jeq(AUDIT_ARCH_X86_64, 0, 9)   // [13] else KILL [23]
      .load_abs(nr)                   // [14]
      .jeq(SYS_futex, 9, 0)           // [15] -> ALLOW [25]
      .jeq(SYS_recvmsg, 8, 0)         // [16]
      .jeq(SYS_arch_prctl, 7, 0)      // [17]
      .jeq(SYS_mmap, 5, 0)            // [18] -> USER_NOTIF [24]
      .jeq(SYS_munmap, 4, 0)          // [19]
      .jeq(SYS_close, 0, 2)           // [20] else KILL [23]
      .load_abs(arg0)                 // [21]
      .jge(2, 2, 0)                   // [22] fd >= 2 -> ALLOW [25]
      .ret(SECCOMP_RET_KILL_PROCESS)  // [23]
      .ret(SECCOMP_RET_USER_NOTIF)    // [24]
      .ret(SECCOMP_RET_ALLOW);        // [25]
  return std::move(b).build();
}

}  // namespace stubfuzz::filter
