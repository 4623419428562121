// The monitor side of the series after 1/7: while a batch runs, a thread
// answers the stub's notifications by the rules of the profile's patches,
// and a watchdog kills a stub that stops making progress. The harness plays
// the monitor UML would be, with every wait bounded: where UML's monitor
// would block forever, the batch reports it (MonitoredBatch::hang).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/result.h"
#include "stub/stub.h"

namespace stubfuzz {

// Which patches of the series the monitor applies.
struct MonitorRules {
  // 2/7: the stub's mmap is notified; the monitor reads one notification
  // per mmap it queued, in order, and answers SECCOMP_USER_NOTIF_FLAG_CONTINUE.
  bool answers_mmap = false;
  // 3/7: ... only if the call maps exactly what the monitor queued (address,
  // length, flags, fd, offset; no more access); otherwise -EPERM.
  bool validates_mmap = false;
  // 4/7: after every wait the monitor drains the listener without blocking,
  // answering what it did not queue with -EPERM, so it never hangs.
  bool drains = false;
  // 5/7: munmap is notified too; allowed only for a non-empty range that does
  // not wrap and lies entirely below the stub.
  bool validates_munmap = false;
  // 6/7: a stub that makes no progress for this long is killed.
  std::optional<std::chrono::milliseconds> watchdog;

  bool answers_notifications() const { return answers_mmap || validates_munmap; }
};

// 3/7: `call` maps what `queued` does (address, length, flags, fd, offset),
// with no more access. mmap's six arguments.
bool same_mapping(const uint64_t call[6], const uint64_t queued[6]);
// 5/7: a munmap range that is non-empty, does not wrap and lies entirely
// below the stub.
bool guest_range(uint64_t addr, uint64_t len, uint64_t stub_start);

// A call the monitor queued for the stub: what a legitimate batch does.
struct QueuedCall {
  uint32_t nr = 0;
  uint64_t args[6] = {};
};

enum class Answer {
  kContinued,  // SECCOMP_USER_NOTIF_FLAG_CONTINUE: the call runs
  kDenied,     // an error (-EPERM) instead of the call
  kGone,       // NOTIF_ID_VALID said the stub no longer waits: not answered
};
const char* to_string(Answer a);

struct AnsweredNotification {
  uint32_t record = 0;  // the stub's current record when it was received
  seccomp_data data{};
  Answer answer = Answer::kDenied;
  int32_t error = 0;  // for kDenied
};

struct MonitoredBatch {
  BatchOutcome outcome;
  std::vector<AnsweredNotification> answers;
  // Where UML's monitor would block forever: a notification it never reads
  // was pending when the bound expired, or it waited in RECV for a queued
  // call that never came. Empty if none.
  std::string hang;
};

class Monitor {
 public:
  // `stall_bound`: the harness's own, longer than any watchdog: a stub that
  // makes no progress for it is blocked (the batch's record ends kTimedOut).
  explicit Monitor(MonitorRules rules, std::optional<std::chrono::milliseconds> stall_bound = {});
  ~Monitor();
  Monitor(const Monitor&) = delete;
  Monitor& operator=(const Monitor&) = delete;

  const MonitorRules& rules() const { return rules_; }

  // Runs `records` in `stub` (bounded by `timeout`), answering the stub's
  // notifications by the rules; `queued` are the calls of the batch the
  // monitor itself queued.
  Result<MonitoredBatch> run(Stub& stub, std::span<const stub_record> records,
                             std::span<const QueuedCall> queued, std::chrono::milliseconds timeout);

  // The answer the rules give a notification, given what is still queued
  // (consumed on CONTINUE). Public for tests of the rules themselves.
  static Answer decide(const MonitorRules& rules, const seccomp_data& d, uint64_t stub_start,
                       std::vector<QueuedCall>& queued, int32_t* error);

 private:
  struct Service;
  MonitorRules rules_;
  std::optional<std::chrono::milliseconds> stall_bound_;
  std::unique_ptr<Service> service_;  // the answering thread, when the rules answer
};

}  // namespace stubfuzz
