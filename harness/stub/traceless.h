// Which calls a stub may have executed and still be reset for the next
// program (Stub::reset): calls that write no memory of the caller and change
// no state of its process (fds, mappings, signals, credentials, limits,
// timers, namespaces, filters). The list is short on purpose: a stub is
// reset only with certainty, and any other executed call retires it.
#pragma once

#include <cstdint>

#include "stub_abi.h"

namespace stubfuzz {

// `r` as it ran (PENDING arguments filled in), and what it returned: an
// x86-64 call from the table, with the arguments that keep it a pure query,
// or a call that failed at a check the kernel makes before it does anything
// (a close() of no fd: -EBADF).
bool leaves_no_trace(const stub_record& r, int64_t ret);

}  // namespace stubfuzz
