// UML's seccomp-mode stub filter (arch/um/kernel/skas/stub_exe.c), the program
// the seed installs: 19 instructions, parameterised by the stub address.
#pragma once

#include <cstdint>
#include <vector>

#include "filter/program.h"

namespace stubfuzz::filter {

// Syscalls (x86-64 numbers) the stub may make from its own page.
std::vector<uint32_t> uml_stub_allowlist();

// Traps every syscall from outside the page at `stub_start`; from inside it
// kills a foreign arch and anything not in `allowlist` or `notified` (those
// return SECCOMP_RET_USER_NOTIF, as the series' 2/7 and 5/7 do for mmap and
// munmap).
Program uml_stub_filter(uint64_t stub_start,
                        const std::vector<uint32_t>& allowlist = uml_stub_allowlist(),
                        const std::vector<uint32_t>& notified = {});

// stubfuzz's own: syscalls only from the stub page's two instructions (the
// gate, the SIGSYS restorer's rt_sigreturn), close only for fd >= 2, mmap and
// munmap through the listener; everything else from the gate kills and any
// other address traps.
Program hardened_stub_filter(uint64_t stub_start);

}  // namespace stubfuzz::filter
