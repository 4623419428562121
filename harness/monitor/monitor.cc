#include "monitor/monitor.h"

#include "monitor/service.h"

namespace stubfuzz {

const char* to_string(MonitorHang h) {
  switch (h) {
    case MonitorHang::kNone:
      return "none";
    case MonitorHang::kUnreadNotification:
      return "a notification the monitor never reads was pending";
    case MonitorHang::kAwaitsQueuedCall:
      return "the monitor waits in RECV for a queued call the stub never made";
  }
  return "?";
}

Monitor::Monitor(MonitorRules rules, std::optional<std::chrono::milliseconds> stall_bound)
    : rules_(rules), stall_bound_(stall_bound) {}
Monitor::~Monitor() = default;

MonitorHang Monitor::hang_at_timeout(Stub& stub, const AnsweringService* s) const {
  kernel::Listener* listener = stub.listener();
  if (!listener) return MonitorHang::kNone;
  const auto pending = listener->wait(std::chrono::milliseconds(0));
  const bool readable = pending.ok() && *pending == kernel::ListenerEvent::kNotification;
  if ((s && s->left_unread()) || (readable && !rules_.drains))
    return MonitorHang::kUnreadNotification;
  if (s && s->awaits_queued()) return MonitorHang::kAwaitsQueuedCall;
  return MonitorHang::kNone;
}

Result<MonitoredBatch> Monitor::run(Stub& stub, std::span<const stub_record> records,
                                    std::span<const QueuedCall> queued,
                                    std::chrono::milliseconds timeout) {
  MonitoredBatch out;
  BatchBounds bounds{.timeout = timeout, .watchdog = rules_.watchdog, .stall = stall_bound_};
  const bool serving = stub.listener() && rules_.answers_notifications();
  if (serving && !service_) service_ = std::make_unique<AnsweringService>(rules_);
  AnsweringService* s = serving ? service_.get() : nullptr;
  bounds.notification_pending = [&stub, s] {
    kernel::Listener* l = stub.listener();
    const auto ev = l ? l->wait(std::chrono::milliseconds(0))
                      : Result<kernel::ListenerEvent>(kernel::ListenerEvent::kNone);
    return (s && s->answering()) || !ev.ok() || *ev == kernel::ListenerEvent::kNotification;
  };
  if (s) {
    if (auto a = s->serve(stub); !a) return a.error();
    bounds.progress = [s] { return s->answered(); };
    s->begin(records, queued);
  }
  auto end = start_and_wait(stub, records, bounds);
  // Looked at before settle() kills the stub: its notification still pends.
  if (end && end->end == BatchEnd::kTimedOut) out.hang = hang_at_timeout(stub, s);
  auto batch = end ? settle(stub, *end, static_cast<uint32_t>(records.size()))
                   : Result<BatchOutcome>(end.error());
  if (s) out.answers = s->end();
  if (!batch) return batch.error();
  out.outcome = *batch;
  // The stub is back and idle while 2/7's monitor still waits in RECV.
  if (s && out.hang == MonitorHang::kNone && batch->end == BatchEnd::kCompleted &&
      s->awaits_queued())
    out.hang = MonitorHang::kAwaitsQueuedCall;
  return out;
}

}  // namespace stubfuzz
