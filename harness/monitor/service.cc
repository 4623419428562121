#include "monitor/service.h"

#include <fcntl.h>
#include <linux/kcmp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>

namespace stubfuzz {

namespace {

// How long the monitor holds a notification for the second thread's records.
constexpr std::chrono::milliseconds kHoldBound{50};

}  // namespace

AnsweringService::AnsweringService(const MonitorRules& rules)
    : rules_(rules), wake_(eventfd(0, EFD_CLOEXEC)), thread_([this] { loop(); }) {}

AnsweringService::~AnsweringService() {
  {
    std::lock_guard lk(mu_);
    shutdown_ = true;
  }
  poke();
  thread_.join();
}

void AnsweringService::poke() {
  const uint64_t one = 1;
  (void)!write(wake_.get(), &one, sizeof(one));
}

bool AnsweringService::attached_to(Stub& s) {
  std::lock_guard lk(mu_);
  if (stub_ != &s || pid_ != s.pid() || !listener_) return false;
  const long same =
      syscall(SYS_kcmp, getpid(), getpid(), KCMP_FILE, s.listener()->fd(), listener_->fd());
  return same == 0 || (same < 0 && errno == ENOSYS);
}

Status AnsweringService::serve(Stub& s) {
  if (attached_to(s)) return {};
  auto dup = kernel::Listener::adopt(Fd(fcntl(s.listener()->fd(), F_DUPFD_CLOEXEC, 3)));
  if (!dup) return dup.error();
  std::unique_lock lk(mu_);
  next_listener_.emplace(std::move(*dup));
  stub_ = &s;
  pid_ = s.pid();
  data_ = &s.data();
  stub_start_ = s.layout().stub_start;
  poke();
  switched_.wait(lk, [&] { return !next_listener_; });
  return {};
}

void AnsweringService::begin(std::span<const stub_record> records,
                             std::span<const QueuedCall> queue) {
  std::lock_guard lk(mu_);
  hold_ =
      stub_->has_second_thread() && std::any_of(records.begin(), records.end(),
                                                [](const stub_record& r) { return r.thread == 1; });
  queued_.assign(queue.begin(), queue.end());
  expected_ = static_cast<size_t>(std::count_if(
      queue.begin(), queue.end(), [&](const QueuedCall& q) { return notified_by(rules_, q.nr); }));
  reads_ = 0;
  answered_ = 0;
  unread_ = false;
  answers_.clear();
  held_.reset();
  if (paused_ && !hung_up_) {
    paused_ = false;
    poke();
  }
}

std::vector<AnsweredNotification> AnsweringService::end() {
  std::lock_guard lk(mu_);
  if (held_) answer(held_->note, held_->a);  // no longer pending: recorded as gone
  held_.reset();
  hold_ = false;
  return std::move(answers_);
}

bool AnsweringService::awaits_queued() const { return !rules_.drains && reads_ < expected_; }

int AnsweringService::take_turn(bool* holding) {
  if (next_listener_) {
    listener_ = std::move(next_listener_);
    next_listener_.reset();
    paused_ = hung_up_ = false;
    switched_.notify_all();
  }
  *holding = held_.has_value();
  return listener_ && !paused_ ? listener_->fd() : -1;
}

void AnsweringService::loop() {
  for (;;) {
    int fd = -1;
    bool holding = false;
    {
      std::lock_guard lk(mu_);
      if (shutdown_) return;
      fd = take_turn(&holding);
    }
    pollfd p[2] = {{wake_.get(), POLLIN, 0}, {fd, POLLIN, 0}};
    if (poll(p, 2, holding ? 1 : -1) < 0 && errno != EINTR) return;
    if (p[0].revents & POLLIN) {
      uint64_t v;
      (void)!read(wake_.get(), &v, sizeof(v));
      continue;
    }
    std::lock_guard lk(mu_);
    if (next_listener_) continue;  // switching: the fd polled is the old one
    release_held_if_done();
    if (p[1].revents & POLLIN)
      serve_one();
    else if (p[1].revents)
      paused_ = hung_up_ = true;  // every filter user is gone
  }
}

// Under mu_: the second thread's records are done (its word is clear), or
// the hold expired.
void AnsweringService::release_held_if_done() {
  if (!held_) return;
  const bool second_done =
      __atomic_load_n(stub_->done_word(1), __ATOMIC_ACQUIRE) == 0 || stub_->thread_gone(1);
  if (!second_done && std::chrono::steady_clock::now() < held_->until) return;
  answer(held_->note, held_->a);
  held_.reset();
}

// Under mu_: one readable notification.
void AnsweringService::serve_one() {
  if (!rules_.drains && reads_ >= expected_) {
    // 2/7 reads exactly one notification per queued call: this one stays
    // unread, and the stub waits for an answer that never comes.
    unread_ = true;
    paused_ = true;
    return;
  }
  auto note = listener_->receive();
  if (!note) return;  // the stub died between poll and RECV
  reads_++;
  AnsweredNotification a;
  // Reading the stub's memory: the notification may be stale by now, which
  // answer() checks with NOTIF_ID_VALID.
  const bool main_thread = static_cast<pid_t>(note->pid) == pid_;
  a.record = __atomic_load_n(main_thread ? &data_->current : &data_->current2, __ATOMIC_ACQUIRE);
  a.data = note->data;
  if (main_thread && hold_ && !held_) {
    // The notification is pending while the second thread runs: a hijacked
    // stub may try to answer it itself.
    hold_ = false;
    if (stub_->start_second_thread(note->id)) {
      held_ = Held{*note, a, std::chrono::steady_clock::now() + kHoldBound};
      return;
    }
  }
  answer(*note, a);
}

// Under mu_: answers by the rules, unless the notification is no longer
// pending.
void AnsweringService::answer(const kernel::Notification& note, AnsweredNotification a) {
  a.answer = decide(rules_, note.data, stub_start_, queued_, &a.error);
  auto valid = listener_->id_valid(note.id);
  if (!valid || !*valid) {
    a.answer = Answer::kGone;
  } else {
    kernel::Response r;
    r.id = note.id;
    if (a.answer == Answer::kContinued)
      r.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
    else
      r.error = -a.error;
    if (!listener_->send(r)) a.answer = Answer::kGone;
  }
  answers_.push_back(a);
  answered_++;
}

}  // namespace stubfuzz
