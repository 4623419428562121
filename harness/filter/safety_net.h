// The safety net: a filter installed before the one under test, without a
// listener, that denies with EPERM the calls that could reach outside the
// sandbox if the filter under test let them through: signals to anything but
// the stub itself, reboot, kexec, mount, ptrace, bpf, perf_event_open,
// setns, unshare, keyctl, module loading and the like, for x86-64 (and x32)
// and i386. By the kernel's precedence a TRAP or KILL of the filter under
// test still wins; the net only turns an ALLOW into an EPERM.
#pragma once

#include <cstdint>
#include <vector>

#include "filter/program.h"

namespace stubfuzz::filter {

inline constexpr uint16_t kSafetyNetErrno = 1;  // EPERM

// `own_pid`: the stub's pid as it sees itself (1 in its own pid namespace);
// signals to it stay allowed. 0: deny every signal-sending call.
Program safety_net(uint32_t own_pid = 1);

// The calls the net denies outright, by name (both arches where they exist).
const std::vector<const char*>& safety_net_denied();

}  // namespace stubfuzz::filter
