#include "filter/uml_filter.h"

#include <linux/audit.h>
#include <linux/seccomp.h>
#include <sys/syscall.h>

#include <cstddef>
#include <stdexcept>

namespace stubfuzz::filter {

std::vector<uint32_t> uml_stub_allowlist() {
  return {SYS_futex,  SYS_recvmsg,    SYS_close,       SYS_mmap,
          SYS_munmap, SYS_arch_prctl, SYS_rt_sigreturn};
}

Program uml_stub_filter(uint64_t stub_start, const std::vector<uint32_t>& allowlist) {
  if (allowlist.empty() || allowlist.size() > 200)
    throw std::invalid_argument("uml_stub_filter: allowlist size out of range");
  const auto n = static_cast<uint8_t>(allowlist.size());
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
  for (uint8_t i = 0; i < n; i++) b.jeq(allowlist[i], static_cast<uint8_t>(n - i), 0);
  b.ret(SECCOMP_RET_KILL_PROCESS)  // not allowed from the stub page
      .ret(SECCOMP_RET_ALLOW);
  return std::move(b).build();
}

}  // namespace stubfuzz::filter
