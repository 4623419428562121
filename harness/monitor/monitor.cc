#include "monitor/monitor.h"

#include <fcntl.h>
#include <linux/audit.h>
#include <linux/kcmp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>

#include "kernel/facts.h"

namespace stubfuzz {

namespace {

constexpr int32_t kDenyErrno = EPERM;
// How long the monitor holds a notification for the second thread's records.
constexpr std::chrono::milliseconds kHoldBound{50};

bool notified_by(const MonitorRules& rules, uint32_t nr) {
  return (nr == SYS_mmap && rules.answers_mmap) || (nr == SYS_munmap && rules.validates_munmap);
}

}  // namespace

bool same_mapping(const uint64_t call[6], const uint64_t queued[6]) {
  return call[0] == queued[0] && call[1] == queued[1] && (call[2] & ~queued[2]) == 0 &&
         call[3] == queued[3] && call[4] == queued[4] && call[5] == queued[5];
}

bool guest_range(uint64_t addr, uint64_t len, uint64_t stub_start) {
  return len != 0 && addr + len > addr && addr + len <= stub_start;
}

const char* to_string(Answer a) {
  switch (a) {
    case Answer::kContinued:
      return "CONTINUE";
    case Answer::kDenied:
      return "denied";
    case Answer::kGone:
      return "gone";
  }
  return "?";
}

Answer Monitor::decide(const MonitorRules& rules, const seccomp_data& d, uint64_t stub_start,
                       std::vector<QueuedCall>& queued, int32_t* error) {
  *error = kDenyErrno;
  if (d.arch != AUDIT_ARCH_X86_64) return Answer::kDenied;
  const auto nr = static_cast<uint32_t>(d.nr);
  uint64_t a[6];
  std::copy(std::begin(d.args), std::end(d.args), a);
  if (nr == SYS_mmap && rules.answers_mmap) {
    for (auto it = queued.begin(); it != queued.end(); ++it) {
      if (it->nr != SYS_mmap) continue;
      if (rules.validates_mmap && !same_mapping(a, it->args)) continue;
      queued.erase(it);  // 2/7 alone: the next queued mmap, whatever it maps
      return Answer::kContinued;
    }
    return rules.validates_mmap ? Answer::kDenied : Answer::kContinued;
  }
  if (nr == SYS_munmap && rules.validates_munmap) {
    return guest_range(a[0], a[1], stub_start) ? Answer::kContinued : Answer::kDenied;
  }
  return Answer::kDenied;  // a notification no rule expects
}

// The answering thread. It stays in poll() on its own copy of the current
// stub's listener across batches, so a batch that notifies nothing costs no
// thread hand-over: begin() and end() only take the lock. It is woken (an
// eventfd) only to switch to another stub's listener, to resume reading, or
// to stop. Everything below `mu` is shared with the monitor's caller.
struct Monitor::Service {
  explicit Service(const MonitorRules& r) : rules(r) {
    wake.reset(eventfd(0, EFD_CLOEXEC));
    thread = std::thread([this] { loop(); });
  }
  ~Service() {
    {
      std::lock_guard lk(mu);
      shutdown = true;
    }
    poke();
    thread.join();
  }

  void poke() {
    const uint64_t one = 1;
    (void)!write(wake.get(), &one, sizeof(one));
  }

  // Points the thread at `s`'s listener (a dup it owns, so the stub may
  // close its own at any time); waits until the thread has switched.
  Status attach(Stub* s) {
    auto dup = kernel::Listener::adopt(Fd(fcntl(s->listener()->fd(), F_DUPFD_CLOEXEC, 3)));
    if (!dup) return dup.error();
    std::unique_lock lk(mu);
    next_listener.emplace(std::move(*dup));
    stub = s;
    pid = s->pid();
    data = &s->data();
    stub_start = s->layout().stub_start;
    poke();
    cv.wait(lk, [&] { return !next_listener; });
    return {};
  }
  // The same open listener (kcmp), not only the same Stub object and pid.
  bool attached_to(Stub& s) {
    std::lock_guard lk(mu);
    if (stub != &s || pid != s.pid() || !listener) return false;
    const long same =
        syscall(SYS_kcmp, getpid(), getpid(), KCMP_FILE, s.listener()->fd(), listener->fd());
    return same == 0 || (same < 0 && errno == ENOSYS);
  }

  void begin(std::span<const stub_record> records, std::span<const QueuedCall> queue) {
    std::lock_guard lk(mu);
    hold = stub->has_second_thread() &&
           std::any_of(records.begin(), records.end(),
                       [](const stub_record& r) { return r.thread == 1; });
    queued.assign(queue.begin(), queue.end());
    expected = 0;
    for (const auto& q : queue) expected += notified_by(rules, q.nr) ? 1 : 0;
    reads = 0;
    answered = 0;
    unread = false;
    answers.clear();
    held.reset();
    if (paused && !hung_up) {
      paused = false;
      poke();
    }
  }

  // The stub is idle, dead or killed: nothing more comes for this batch. A
  // notification still being answered finishes first (it holds `mu`).
  std::vector<AnsweredNotification> end() {
    std::lock_guard lk(mu);
    if (held) answer(held->note, held->a);  // no longer pending: recorded as gone
    held.reset();
    hold = false;
    return std::move(answers);
  }

  void loop() {
    for (;;) {
      int fd = -1;
      bool holding = false;
      {
        std::lock_guard lk(mu);
        if (shutdown) return;
        if (next_listener) {
          listener = std::move(next_listener);
          next_listener.reset();
          paused = hung_up = false;
          cv.notify_all();
        }
        if (listener && !paused) fd = listener->fd();
        holding = held.has_value();
      }
      pollfd p[2] = {{wake.get(), POLLIN, 0}, {fd, POLLIN, 0}};
      if (poll(p, 2, holding ? 1 : -1) < 0 && errno != EINTR) return;
      if (p[0].revents & POLLIN) {
        uint64_t v;
        (void)!read(wake.get(), &v, sizeof(v));
        continue;
      }
      std::lock_guard lk(mu);
      if (next_listener) continue;  // switching: the fd polled is the old one
      if (held && (stub->wait_second_thread(std::chrono::milliseconds(0)) ||
                   kernel::Clock::now() >= held->until)) {
        answer(held->note, held->a);
        held.reset();
      }
      if (p[1].revents & POLLIN)
        serve_one();
      else if (p[1].revents)
        paused = hung_up = true;  // every filter user is gone
    }
  }

  // Under `mu`: one readable notification.
  void serve_one() {
    if (!rules.drains && reads >= expected) {
      // 2/7 reads exactly one notification per queued call: this one stays
      // unread, and the stub waits for an answer that never comes.
      unread = true;
      paused = true;
      return;
    }
    auto note = listener->receive();
    if (!note) return;  // the stub died between poll and RECV
    reads++;
    AnsweredNotification a;
    // Reading the stub's memory: the notification may be stale by now,
    // which answer() checks with NOTIF_ID_VALID.
    const bool main_thread = static_cast<pid_t>(note->pid) == pid;
    a.record = __atomic_load_n(main_thread ? &data->current : &data->current2, __ATOMIC_ACQUIRE);
    a.data = note->data;
    if (main_thread && hold && !held) {
      // The notification is pending while the second thread runs: a
      // hijacked stub may try to answer it itself.
      hold = false;
      if (stub->start_second_thread(note->id)) {
        held = Held{*note, a, kernel::Clock::now() + kHoldBound};
        return;
      }
    }
    answer(*note, a);
  }

  // Under `mu`: answers by the rules, unless the notification is no longer
  // pending.
  void answer(const kernel::Notification& note, AnsweredNotification a) {
    a.answer = decide(rules, note.data, stub_start, queued, &a.error);
    auto valid = listener->id_valid(note.id);
    if (!valid || !*valid) {
      a.answer = Answer::kGone;
    } else {
      kernel::Response r;
      r.id = note.id;
      if (a.answer == Answer::kContinued)
        r.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
      else
        r.error = -a.error;
      if (!listener->send(r)) a.answer = Answer::kGone;
    }
    answers.push_back(a);
    answered++;
  }

  // A notification of the first thread whose answer waits until the second
  // thread's records are done (or kHoldBound); meanwhile the loop keeps
  // serving the second thread's own notifications.
  struct Held {
    kernel::Notification note;
    AnsweredNotification a;
    kernel::Clock::time_point until;
  };

  const MonitorRules rules;
  Fd wake;
  std::thread thread;
  std::mutex mu;
  std::condition_variable cv;
  bool shutdown = false;
  std::optional<kernel::Listener> listener, next_listener;
  Stub* stub = nullptr;
  pid_t pid = -1;
  const stub_data* data = nullptr;
  uint64_t stub_start = 0;
  bool paused = false;   // not reading: 2/7 left one unread, or hung up
  bool hung_up = false;  // the stub is gone; until the next attach
  // The batch.
  bool hold = false;  // the batch has records for the second thread
  std::optional<Held> held;
  std::vector<QueuedCall> queued;
  size_t expected = 0;
  std::atomic<size_t> reads{0};
  std::atomic<uint64_t> answered{0};
  std::atomic<bool> unread{false};
  std::vector<AnsweredNotification> answers;
};

Monitor::Monitor(MonitorRules rules, std::optional<std::chrono::milliseconds> stall_bound)
    : rules_(rules), stall_bound_(stall_bound) {}
Monitor::~Monitor() = default;

Result<MonitoredBatch> Monitor::run(Stub& stub, std::span<const stub_record> records,
                                    std::span<const QueuedCall> queued,
                                    std::chrono::milliseconds timeout) {
  MonitoredBatch out;
  RunHooks hooks;
  // Both bounds as this machine needs them (an emulated guest is far slower).
  if (rules_.watchdog) hooks.watchdog = kernel::paced(*rules_.watchdog);
  if (stall_bound_) hooks.stall_bound = kernel::paced(*stall_bound_);
  kernel::Listener* listener = stub.listener();
  const bool serving = listener && rules_.answers_notifications();
  if (serving && !service_) service_ = std::make_unique<Service>(rules_);
  Service* s = serving ? service_.get() : nullptr;

  hooks.before_timeout_kill = [&] {
    if (!listener) return;
    const auto pending = listener->wait(std::chrono::milliseconds(0));
    const bool readable = pending.ok() && *pending == kernel::ListenerEvent::kNotification;
    if ((s && s->unread) || (readable && !rules_.drains))
      out.hang = "a notification the monitor never reads was pending";
    else if (s && !rules_.drains && s->reads < s->expected)
      out.hang = "the monitor waits in RECV for a queued call the stub never made";
  };
  if (s) {
    if (!s->attached_to(stub))
      if (auto a = s->attach(&stub); !a) return a.error();
    hooks.progress = [s] { return s->answered.load(std::memory_order_relaxed); };
    s->begin(records, queued);
  }
  auto batch = stub.run(records, timeout, &hooks);
  std::vector<AnsweredNotification> answers;
  if (s) answers = s->end();
  if (!batch) return batch.error();
  out.outcome = *batch;
  if (s) {
    out.answers = std::move(answers);
    // The stub is back and idle while 2/7's monitor still waits in RECV.
    if (out.hang.empty() && batch->end == BatchEnd::kCompleted && !rules_.drains &&
        s->reads < s->expected)
      out.hang = "the monitor waits in RECV for a queued call the stub never made";
  }
  return out;
}

}  // namespace stubfuzz
