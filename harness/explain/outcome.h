// One syscall record as the model sees it (its seccomp_data) and as the
// kernel answered it in a stub, both reduced to one comparable word:
// "ALLOW", "ERRNO(13)", "TRAP(5)" or "KILL".
#pragma once

#include <linux/seccomp.h>

#include <cstdint>
#include <string>

#include "filter/predict.h"
#include "filter/syscall_names.h"
#include "monitor/batch.h"
#include "monitor/rules.h"
#include "stub/record.h"
#include "stub/stub.h"

namespace stubfuzz::explain {

// Where the stub page's own syscall instructions end (stub_abi.h): what the
// kernel reports for them as instruction_pointer.
inline constexpr uint64_t kStubGateIpOffset[2] = {STUB_GATE_X86_64_OFFSET + kSyscallInsnLen,
                                                  STUB_GATE_I386_OFFSET + kSyscallInsnLen};

filter::Arch arch_of(const stub_record& r);

// What the kernel will do with a filter return, in observable terms. TRACE
// without a tracer and USER_NOTIF without a listener fail with ENOSYS. A call
// that never meets the filter (filter/predict.h) is "FAULT(SIGSEGV)" (no
// such ABI) or "UNFILTERED" (exempt: whatever the call itself does).
std::string predicted_outcome(uint32_t ret, filter::Path path = filter::Path::kFiltered);
// A USER_NOTIF call under a listener, answered by a monitor with `rules`
// that queued nothing: "HANG" when it never reads the notification (2/7
// without 4/7's drain; no answering rules at all), "WATCHDOG" when 6/7
// kills the stub for it, "ERRNO(1)" when denied, "ALLOW" when continued.
std::string notified_outcome(const MonitorRules& rules, const seccomp_data& d, uint64_t stub_start);
// Whether an observed outcome is what was predicted.
bool agrees(const std::string& predicted, const std::string& observed);
// What the record did: from its result and how the batch ended ("HANG"
// when it blocked past the batch's bound, "WATCHDOG" when 6/7 killed it).
std::string observed_outcome(const stub_result& r, const BatchOutcome& batch);

}  // namespace stubfuzz::explain
