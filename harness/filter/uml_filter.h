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
// kills a foreign arch and anything not in `allowlist`.
Program uml_stub_filter(uint64_t stub_start,
                        const std::vector<uint32_t>& allowlist = uml_stub_allowlist());

}  // namespace stubfuzz::filter
