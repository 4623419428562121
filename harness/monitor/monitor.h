// The monitor side of the series after 1/7: while a batch runs, a thread
// answers the stub's notifications by the rules of the profile's patches
// (monitor/rules.h, monitor/service.h), and a watchdog kills a stub that
// stops making progress (monitor/batch.h). The harness plays the monitor
// UML would be, with every wait bounded: where UML's monitor would block
// forever, the batch says so (MonitoredBatch::hang).
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "base/result.h"
#include "monitor/batch.h"
#include "monitor/rules.h"
#include "stub/stub.h"

namespace stubfuzz {

class AnsweringService;

// Where UML's monitor would block forever.
enum class MonitorHang {
  kNone,
  // A notification it never reads was pending when the bound expired.
  kUnreadNotification,
  // It waits in RECV for a queued call the stub never made.
  kAwaitsQueuedCall,
};
const char* to_string(MonitorHang h);

struct MonitoredBatch {
  BatchOutcome outcome;
  std::vector<AnsweredNotification> answers;
  MonitorHang hang = MonitorHang::kNone;
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

 private:
  // A batch that overran: would UML's monitor be blocked by now?
  MonitorHang hang_at_timeout(Stub& stub, const AnsweringService* s) const;

  MonitorRules rules_;
  std::optional<std::chrono::milliseconds> stall_bound_;
  std::unique_ptr<AnsweringService> service_;  // when the rules answer
};

}  // namespace stubfuzz
