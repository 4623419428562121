#include "explain/outcome.h"

#include <errno.h>
#include <signal.h>

#include "filter/evaluator.h"

namespace stubfuzz::explain {

namespace {
constexpr int64_t kMaxErrno = 4095;
}

filter::Arch arch_of(const stub_record& r) {
  return r.abi == STUB_ABI_I386 ? filter::Arch::kI386 : filter::Arch::kX86_64;
}

std::string predicted_outcome(uint32_t ret, filter::Path path) {
  if (path == filter::Path::kNoAbi) return "FAULT(SIGSEGV)";
  if (path == filter::Path::kExempt) return "UNFILTERED";
  const uint16_t data = filter::ret_data(ret);
  switch (filter::action_of(ret)) {
    case filter::Action::kAllow:
    case filter::Action::kLog:
      return "ALLOW";
    case filter::Action::kErrno:
      return "ERRNO(" + std::to_string(std::min<int64_t>(data, kMaxErrno)) + ")";
    case filter::Action::kTrap:
      return "TRAP(" + std::to_string(data) + ")";
    case filter::Action::kTrace:
    case filter::Action::kUserNotif:
      return "ERRNO(" + std::to_string(ENOSYS) + ")";
    case filter::Action::kKillThread:
    case filter::Action::kKillProcess:
      return "KILL";
  }
  return "?";
}

std::string observed_outcome(const stub_result& r, const BatchOutcome& batch) {
  if (r.status == STUB_RESULT_DONE) {
    if (r.trapped) return "TRAP(" + std::to_string(r.trap_errno) + ")";
    if (r.ret < 0 && r.ret >= -kMaxErrno) return "ERRNO(" + std::to_string(-r.ret) + ")";
    return "ALLOW";
  }
  if (r.status == STUB_RESULT_RUNNING && batch.end == BatchEnd::kStubDied && batch.exit &&
      batch.exit->killed_by(SIGSYS))
    return "KILL";
  if (r.status == STUB_RESULT_RUNNING && batch.end == BatchEnd::kStubDied && batch.exit &&
      batch.exit->killed_by(SIGSEGV))
    return "FAULT(SIGSEGV)";
  if (r.status == STUB_RESULT_RUNNING && batch.end == BatchEnd::kTimedOut) return "HANG";
  if (r.status == STUB_RESULT_RUNNING && batch.end == BatchEnd::kWatchdog) return "WATCHDOG";
  if (r.status == STUB_RESULT_RUNNING)
    return std::string("stub ") + to_string(batch.end) +
           (batch.exit ? " (" + kernel::describe(*batch.exit) + ")" : "");
  if (r.status == STUB_RESULT_BAD_RECORD) return "bad record";
  return "not run";
}

std::string notified_outcome(const MonitorRules& rules, const seccomp_data& d,
                             uint64_t stub_start) {
  // Without 4/7 the monitor reads one notification per call it queued:
  // none here, so this one stays unread.
  if (!rules.answers_notifications() || !rules.drains) return rules.watchdog ? "WATCHDOG" : "HANG";
  std::vector<QueuedCall> none;
  int32_t error = 0;
  if (decide(rules, d, stub_start, none, &error) == Answer::kContinued) return "ALLOW";
  return "ERRNO(" + std::to_string(error) + ")";
}

bool agrees(const std::string& predicted, const std::string& observed) {
  if (predicted != "UNFILTERED") return predicted == observed;
  // Ran: anything but the filter's traps and kills, or a record never run.
  return !observed.starts_with("TRAP") && observed != "KILL" && observed != "not run" &&
         observed != "bad record";
}

}  // namespace stubfuzz::explain
