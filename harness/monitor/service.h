// The monitor's answering thread: it reads the stub's notifications from the
// listener and answers them by the rules (monitor/rules.h) while a batch
// runs. It stays in poll() on its own copy of the current stub's listener
// across batches, so a batch that notifies nothing costs no thread
// hand-over: begin() and end() only take the lock. It is woken (an eventfd)
// only to switch to another stub's listener, to resume reading, or to stop.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <span>
#include <thread>
#include <vector>

#include "base/fd.h"
#include "base/result.h"
#include "kernel/listener.h"
#include "monitor/rules.h"
#include "stub/stub.h"

namespace stubfuzz {

class AnsweringService {
 public:
  explicit AnsweringService(const MonitorRules& rules);
  ~AnsweringService();
  AnsweringService(const AnsweringService&) = delete;
  AnsweringService& operator=(const AnsweringService&) = delete;

  // Serves `stub`'s listener (a dup the thread owns, so the stub may close
  // its own at any time), unless it already does: the same open listener
  // (kcmp), not only the same Stub object and pid.
  Status serve(Stub& stub);

  // A batch of `records` begins; `queue` holds the calls the monitor queued.
  void begin(std::span<const stub_record> records, std::span<const QueuedCall> queue);
  // The stub is idle, dead or killed: nothing more comes for this batch. A
  // notification still being answered finishes first.
  std::vector<AnsweredNotification> end();

  // Notifications answered so far: the stub's progress outside its records.
  uint64_t answered() const { return answered_.load(std::memory_order_relaxed); }
  // A notification was read and is not answered yet (held, or being answered).
  bool answering() const { return reads_.load() > answered_.load(); }
  // 2/7 left a notification unread: it reads one per queued call only.
  bool left_unread() const { return unread_.load(); }
  // 2/7 still waits in RECV for a queued call the stub never made.
  bool awaits_queued() const;

 private:
  // A notification of the first thread whose answer waits until the second
  // thread's records are done (or kHoldBound); meanwhile the loop keeps
  // serving the second thread's own notifications.
  struct Held {
    kernel::Notification note;
    AnsweredNotification a;
    std::chrono::steady_clock::time_point until;
  };

  bool attached_to(Stub& s);
  void poke();
  void loop();
  // Under mu_: a switch to a new listener, and the fd to poll (-1: none).
  int take_turn(bool* holding);
  void release_held_if_done();
  void serve_one();
  void answer(const kernel::Notification& note, AnsweredNotification a);

  const MonitorRules rules_;
  Fd wake_;
  std::mutex mu_;
  std::condition_variable switched_;
  bool shutdown_ = false;
  // The stub served.
  std::optional<kernel::Listener> listener_, next_listener_;
  Stub* stub_ = nullptr;
  pid_t pid_ = -1;
  const stub_data* data_ = nullptr;
  uint64_t stub_start_ = 0;
  bool paused_ = false;   // not reading: 2/7 left one unread, or hung up
  bool hung_up_ = false;  // the stub is gone; until the next serve()
  // The batch.
  bool hold_ = false;  // the batch has records for the second thread
  std::optional<Held> held_;
  std::vector<QueuedCall> queued_;
  size_t expected_ = 0;
  std::atomic<size_t> reads_{0};
  std::atomic<uint64_t> answered_{0};
  std::atomic<bool> unread_{false};
  std::vector<AnsweredNotification> answers_;
  std::thread thread_;  // last: starts once everything above exists
};

}  // namespace stubfuzz
