#include "monitor/batch.h"

#include <asm/unistd.h>
#include <linux/futex.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <utility>

#include "kernel/facts.h"
#include "kernel/proc.h"

namespace stubfuzz {

namespace {

using kernel::Clock;
using std::chrono::milliseconds;

// The second thread's word is not robust: looked at more often.
constexpr milliseconds kSecondThreadSlice{5};
// How many more windows a stub starved of CPU gets before a bound fires.
constexpr int kMaxExtensions = 3;
// When a record has made no progress for this long, and then twice as long,
// and so on kQuickLooks times, /proc is asked whether it sleeps for good. A
// look costs ~20 us of the monitor's time; a call that returns at all
// mostly does so well within the first.
constexpr std::chrono::microseconds kFirstQuickLook{20};
constexpr int kQuickLooks = 7;
// How often the monitor checks whether a thread has reached a spin record
// of its batch (a load from the data page; /proc only once it has).
constexpr std::chrono::microseconds kSpinWatch{50};
// How long a thread that reached a spin record sleeps before it spins, for
// the monitor to see it (stub_abi.h: spin_handoff_us); after that it spins.
constexpr milliseconds kSpinHandoff{1};

// Bytes of the stub's that nothing but a record writes during a batch: the
// data page's header (written at init) and its records (written by the
// monitor before the batch; the stub copies their arguments). While no
// record of the other thread has run, a timeout there is the one the
// kernel read. nullptr anywhere else: the scratch buffer, stacks and arenas
// are where records and the stub itself write; and for UML's stub, whose
// data() is a mirror and not what lies at those addresses. (A process the
// stub forked shares the data pages; the looks do not see it, untimed waits
// alike.)
const uint8_t* stable_bytes(const Stub& stub, uint64_t addr, size_t len) {
  if (!stub.data_is_the_stubs()) return nullptr;
  const stub_data& d = stub.data();
  const uint64_t base = stub.layout().data_start();
  if (addr < base) return nullptr;
  const uint64_t off = addr - base;
  const size_t records = offsetof(stub_data, records);
  const std::pair<size_t, size_t> ranges[] = {
      {0, offsetof(stub_data, robust_head)},
      {records, records + std::min<uint32_t>(d.nrecords, STUB_MAX_RECORDS) * sizeof(stub_record)}};
  for (const auto& [from, to] : ranges)
    if (off >= from && off <= to && len <= to - off)
      return reinterpret_cast<const uint8_t*>(&d) + off;
  return nullptr;
}

// Where a sleeping call's timeout ends it. `readable`: no record of the
// other thread has run since the batch began, so stable_bytes() hold what
// the kernel read.
struct Timeouts {
  const Stub& stub;
  Clock::time_point posted;  // a relative timeout began after it
  bool readable;

  // In milliseconds, as poll and epoll_wait take it.
  std::optional<Clock::time_point> millis(int v) const {
    if (v < 0) return Clock::time_point::max();
    if (v == 0) return std::nullopt;  // returns at once
    return posted + milliseconds(v);
  }

  // At `addr`: a timespec (64-bit on x86-64 and x32) or a timeval, relative
  // or on a clock; no pointer at all is no timeout. nullopt if invalid (the
  // call fails at once) or not readable for sure.
  std::optional<Clock::time_point> at(uint64_t addr, bool timeval = false, bool absolute = false,
                                      clockid_t clock = CLOCK_MONOTONIC) const {
    if (addr == 0) return Clock::time_point::max();
    int64_t t[2];
    const uint8_t* bytes = readable ? stable_bytes(stub, addr, sizeof(t)) : nullptr;
    if (!bytes) return std::nullopt;
    std::memcpy(t, bytes, sizeof(t));
    const int64_t sub = timeval ? 1000000 : 1000000000;
    if (t[0] < 0 || t[1] < 0 || t[1] >= sub) return std::nullopt;
    // Seconds; anything longer is as good as forever, and nanoseconds of it
    // still fit in 64 bits (2^31 s is 2.1e18 ns).
    constexpr int64_t kFar = int64_t{1} << 31;
    const auto d = std::chrono::seconds(std::min(t[0], kFar)) +
                   std::chrono::nanoseconds(timeval ? t[1] * 1000 : t[1]);
    if (!absolute) return posted + std::chrono::duration_cast<Clock::duration>(d);
    timespec now{};
    clock_gettime(clock, &now);
    const auto left =
        d - (std::chrono::seconds(now.tv_sec) + std::chrono::nanoseconds(now.tv_nsec));
    return Clock::now() + std::chrono::duration_cast<Clock::duration>(left);
  }
};

// When an x86-64 call a thread sleeps in ends by itself at the earliest:
// time_point::max() when only a wake-up nobody in the harness sends could
// end it (a futex wait, pause, sigsuspend, a read or receive on a blocking
// fd, a poll or select with no timeout; the stub's own idle wait is such a
// futex wait), the end of its own timeout, or nullopt if that is not known.
std::optional<Clock::time_point> ends_by_itself(const kernel::SleepingSyscall& c,
                                                const Timeouts& timeouts) {
  const long nr = c.nr & ~long{__X32_SYSCALL_BIT};
  const uint64_t* a = c.args;
  switch (nr) {
    case SYS_futex: {
      // The kernel takes the op as an int: whatever is above it is ignored.
      const int op = static_cast<int>(a[1]);
      const clockid_t clock = op & FUTEX_CLOCK_REALTIME ? CLOCK_REALTIME : CLOCK_MONOTONIC;
      switch (op & FUTEX_CMD_MASK) {
        case FUTEX_WAIT:
          return timeouts.at(a[3]);
        case FUTEX_WAIT_BITSET:
          return timeouts.at(a[3], false, /*absolute=*/true, clock);
        default:
          return std::nullopt;
      }
    }
    case SYS_pause:
    case SYS_rt_sigsuspend:
    case SYS_read:
    case SYS_readv:
    case SYS_recvfrom:
    case SYS_recvmsg:
    case SYS_accept:
    case SYS_accept4:
      return Clock::time_point::max();
    case SYS_poll:
      return timeouts.millis(static_cast<int>(a[2]));
    case SYS_epoll_wait:
    case SYS_epoll_pwait:
      return timeouts.millis(static_cast<int>(a[3]));
    case SYS_ppoll:
      return timeouts.at(a[2]);
    case SYS_pselect6:
      return timeouts.at(a[4]);
    case SYS_select:
      return timeouts.at(a[4], /*timeval=*/true);
    case SYS_nanosleep:
      return a[0] ? timeouts.at(a[0]) : std::nullopt;  // no request: EFAULT
    case SYS_clock_nanosleep: {
      const auto clock = static_cast<clockid_t>(a[0]);
      if (clock != CLOCK_MONOTONIC && clock != CLOCK_REALTIME && clock != CLOCK_BOOTTIME)
        return std::nullopt;
      if (a[2] == 0) return std::nullopt;
      return timeouts.at(a[2], false, static_cast<int>(a[1]) & TIMER_ABSTIME, clock);
    }
    default:
      return std::nullopt;
  }
}

enum class Wait { kDone, kDied, kStalled, kAsleep, kWatchdog, kDeadline };

// Waits for one thread's word, judging progress across windows: a bound
// fires only after a second window without progress, and only if /proc says
// the stub is really stuck (every thread asleep in a syscall, or one that
// ran most of the window: a spin). A runnable thread that hardly ran waited
// for a CPU and gets the window again; a stub on its way out is waited for
// until the batch's own deadline.
class ThreadWait {
 public:
  // `posted`: when the batch was handed over. `second_alone`: the second
  // thread was started once the first had finished its records.
  ThreadWait(Stub& stub, int thread, std::span<const stub_record> records, const BatchBounds& b,
             Clock::time_point deadline, bool quick, Clock::time_point posted,
             bool second_alone = false)
      : stub_(stub),
        thread_(thread),
        records_(records),
        b_(b),
        deadline_(deadline),
        posted_(posted),
        second_alone_(second_alone),
        quick_(quick),
        has_spin_(std::any_of(records.begin(), records.end(), [&](const stub_record& r) {
          return r.abi == STUB_ABI_SPIN && r.thread == thread;
        })) {}

  Wait run() {
    seen_ = progress();
    last_progress_ = Clock::now();
    for (;;) {
      const uint32_t v = __atomic_load_n(stub_.done_word(thread_), __ATOMIC_ACQUIRE);
      if (v == 0) return Wait::kDone;
      if (stub_.thread_gone(thread_)) return Wait::kDied;
      const auto now = Clock::now();
      if (auto fired = judge_progress(now)) return *fired;
      if (now >= deadline_) return Wait::kDeadline;
      if (kernel::futex_wait(stub_.done_word(thread_), v, slice(now)) ==
          kernel::FutexWait::kTimedOut) {
        // The kernel wakes us when a registered stub dies; this catches one
        // that died before it registered, or while idle.
        if (auto r = stub_.wait_exit(milliseconds(0)); r && r->has_value()) return Wait::kDied;
      }
    }
  }

 private:
  uint64_t progress() const {
    return stub_.records_progress() + (b_.progress ? b_.progress() << 16 : 0);
  }

  bool overran(Clock::time_point now, const std::optional<milliseconds>& bound) const {
    return bound && now - last_progress_ >= *bound;
  }

  std::optional<Wait> judge_progress(Clock::time_point now) {
    // A spin record reached: the index is in shared memory, so this is
    // checked on every wake, not only at the looks. Its thread never comes
    // back, whatever else has moved.
    if (quick_ && has_spin_ && spinning()) return Wait::kStalled;
    // UML's stub sleeping in its handler until the driver resumes it: the
    // driver is late (descheduled), not the stub stuck.
    if (const uint64_t p = progress(); p != seen_ || stub_.awaits_driver()) {
      seen_ = p;
      last_progress_ = now;
      sched_.reset();
      looks_ = 0;
      blocked_looks_ = 0;
      return std::nullopt;
    }
    if (quick_look_due(now) && quick_look()) return Wait::kAsleep;
    if (!overran(now, b_.watchdog) && !overran(now, b_.stall)) return std::nullopt;
    const kernel::TaskSample again = kernel::sample_tasks(stub_.pid());
    const auto window = std::chrono::nanoseconds(now - last_progress_).count();
    const bool starved =
        sched_ && (again.dying ||
                   (!again.all_asleep && again.cpu_ns - sched_->cpu_ns < uint64_t(window) / 2 &&
                    extensions_ < kMaxExtensions));
    if (sched_ && !starved) return overran(now, b_.watchdog) ? Wait::kWatchdog : Wait::kStalled;
    extensions_ += starved ? 1 : 0;
    last_progress_ = now;
    sched_ = again;
    return std::nullopt;
  }

  Clock::time_point next_quick_look() const {
    const auto first =
        std::chrono::duration_cast<Clock::duration>(kFirstQuickLook) * kernel::facts().pace();
    return last_progress_ + std::chrono::duration_cast<Clock::duration>(first * (1 << looks_));
  }
  bool quick_look_due(Clock::time_point now) const {
    return quick_ && looks_ < kQuickLooks && now >= next_quick_look();
  }
  // Blocked for good, seen twice in a row: every thread sleeps in a call
  // that only a wake-up could end and no notification is on its way (a
  // second look rules out a wake-up between two threads' readings).
  bool quick_look() {
    looks_++;
    blocked_looks_ = sleeping_for_good() ? blocked_looks_ + 1 : 0;
    return blocked_looks_ >= 2;
  }

  bool sleeping_for_good() const {
    if (b_.notification_pending && b_.notification_pending()) return false;
    // /proc numbers a call as its ABI does: an i386 record's call is not
    // judged (the stub's own idle waits are x86-64). A thread's index stays
    // on its last record after its batch: only a record still running counts.
    const stub_data& d = stub_.data();
    for (const uint32_t* current : {&d.current, &d.current2}) {
      const uint32_t i = __atomic_load_n(current, __ATOMIC_ACQUIRE);
      if (i < records_.size() && records_[i].abi == STUB_ABI_I386 &&
          __atomic_load_n(&d.results[i].status, __ATOMIC_ACQUIRE) == STUB_RESULT_RUNNING)
        return false;
    }
    // Interruptible sleeps only (kernel/proc.h): /proc names the call a
    // thread entered even while it dies in it (a filter's KILL_PROCESS waits
    // uninterruptibly in the core dump path for the other threads), and
    // such a stub is not blocked.
    // A second thread with no records to run waits on its command word for
    // good (stub_abi.h): only the first thread's call is asked of /proc.
    const bool second_idle = __atomic_load_n(&d.sync2, __ATOMIC_ACQUIRE) == 0;
    const auto calls = kernel::sleeping_syscalls(stub_.pid(), second_idle);
    if (!calls) return false;
    // A sleep that the stall bound would end before it ends by itself is
    // blocked all the same, and known now.
    const auto bound = Clock::now() + 2 * b_.stall.value_or(milliseconds(0));
    return std::all_of(calls->begin(), calls->end(), [&](const kernel::SleepingSyscall& c) {
      const Timeouts timeouts{stub_, posted_, alone(c.tid == stub_.pid() ? 0 : 1)};
      const auto end = ends_by_itself(c, timeouts);
      return end && (*end == Clock::time_point::max() || (b_.stall && *end >= bound));
    });
  }

  // No record of the other thread has run while `thread` ran its records.
  bool alone(int thread) const {
    if (thread == 1) return second_alone_;
    const stub_data& d = stub_.data();
    for (size_t i = 0; i < records_.size(); i++)
      if (records_[i].thread == 1 &&
          __atomic_load_n(&d.results[i].status, __ATOMIC_ACQUIRE) != STUB_RESULT_PENDING)
        return false;
    return true;
  }

  // The thread has reached a spin record: a jump to itself never comes
  // back. (A stub that was dying of something else by then is told by
  // settle(): the first fatal signal is the one reaped. No /proc read here:
  // every /proc dentry of a stub is walked again when it is reaped, which
  // cost more than the look.)
  bool spinning() const {
    const stub_data& d = stub_.data();
    const uint32_t i = __atomic_load_n(thread_ ? &d.current2 : &d.current, __ATOMIC_ACQUIRE);
    // The index is set as the record starts, the status just before the
    // jump (stub_page.c): before that the record has not run (a slow guest
    // showed it).
    return i < records_.size() && records_[i].abi == STUB_ABI_SPIN &&
           records_[i].thread == thread_ &&
           __atomic_load_n(&d.results[i].status, __ATOMIC_ACQUIRE) == STUB_RESULT_RUNNING;
  }

  Clock::duration slice(Clock::time_point now) const {
    Clock::duration s =
        std::min<Clock::duration>(deadline_ - now, thread_ ? kSecondThreadSlice : kLivenessSlice);
    if (quick_ && looks_ < kQuickLooks)
      s = std::min<Clock::duration>(
          s, std::max<Clock::duration>(next_quick_look() - now, std::chrono::microseconds(20)));
    if (quick_ && has_spin_) s = std::min<Clock::duration>(s, kSpinWatch);
    for (auto bound : {b_.watchdog, b_.stall})
      if (bound) s = std::min<Clock::duration>(s, *bound / 4 + milliseconds(1));
    return s;
  }

  Stub& stub_;
  const int thread_;
  const std::span<const stub_record> records_;
  const BatchBounds& b_;
  const Clock::time_point deadline_;
  const Clock::time_point posted_;
  const bool second_alone_;
  uint64_t seen_ = 0;
  Clock::time_point last_progress_;
  // Taken when a first window without progress ends; none on the fast path.
  std::optional<kernel::TaskSample> sched_;
  int extensions_ = 0;  // windows given again to a starved stub
  // Quick looks at /proc since the last progress, and how many in a row
  // found the stub blocked for good.
  const bool quick_;
  const bool has_spin_;  // this thread has a spin record in the batch
  int looks_ = 0;
  int blocked_looks_ = 0;
};

BatchEnd end_of(Wait w, bool watchdog) {
  switch (w) {
    case Wait::kDone:
      return BatchEnd::kCompleted;
    case Wait::kDied:
      return BatchEnd::kStubDied;
    case Wait::kWatchdog:
      return BatchEnd::kWatchdog;
    case Wait::kStalled:
    case Wait::kAsleep:
      return BatchEnd::kTimedOut;
    case Wait::kDeadline:
      // With a watchdog, it is the watchdog that ends a stub, whatever bound.
      return watchdog ? BatchEnd::kWatchdog : BatchEnd::kTimedOut;
  }
  return BatchEnd::kTimedOut;
}

}  // namespace

const char* to_string(BatchEnd e) {
  switch (e) {
    case BatchEnd::kCompleted:
      return "completed";
    case BatchEnd::kStubDied:
      return "stub died";
    case BatchEnd::kTimedOut:
      return "timed out";
    case BatchEnd::kWatchdog:
      return "killed by the watchdog";
  }
  return "?";
}

Result<WaitEnd> start_and_wait(Stub& stub, std::span<const stub_record> records,
                               const BatchBounds& given) {
  // Bounds as this machine needs them (an emulated guest is far slower).
  BatchBounds b = given;
  b.timeout = kernel::paced(b.timeout);
  if (b.watchdog) b.watchdog = kernel::paced(*b.watchdog);
  if (b.stall) b.stall = kernel::paced(*b.stall);
  // Quick looks under the harness's own stall bound only, never where a
  // watchdog must be the one to end the stub.
  const bool quick = b.stall && !b.watchdog;
  // There a spin record is recognised from the data page, and its thread
  // hands the CPU over first: a monitor woken on the stub's CPU would
  // otherwise wait for the next tick.
  const bool spins = std::any_of(records.begin(), records.end(),
                                 [](const stub_record& r) { return r.abi == STUB_ABI_SPIN; });
  const auto handoff = quick && spins ? kernel::paced(kSpinHandoff) : milliseconds(0);
  const auto posted = Clock::now();
  if (auto s = stub.post(records, handoff); !s) return s.error();
  const auto deadline = posted + b.timeout;
  Wait w = ThreadWait(stub, 0, records, b, deadline, quick, posted).run();
  // Thread 2's records run while thread 1 waits in a notification (the
  // monitor's service starts them then), or else now.
  const bool second = std::any_of(records.begin(), records.end(),
                                  [](const stub_record& r) { return r.thread == 1; });
  if (second && w == Wait::kDone) {
    const bool alone = !stub.second_thread_started();
    if (alone) (void)stub.start_second_thread(0);
    w = ThreadWait(stub, 1, records, b, std::max(deadline, Clock::now() + milliseconds(1)), quick,
                   posted, alone)
            .run();
  }
  return WaitEnd{end_of(w, b.watchdog.has_value()), w == Wait::kAsleep};
}

Result<BatchOutcome> settle(Stub& stub, WaitEnd waited, uint32_t count) {
  const BatchEnd end = waited.end;
  BatchOutcome out;
  out.end = end;
  if (end == BatchEnd::kStubDied) {
    if (auto r = stub.wait_exit(kReapTimeout); !r) return r.error();
  } else if (end != BatchEnd::kCompleted) {
    if (auto r = stub.kill(); !r) return r.error();
  }
  // Already dying of something else (a filter's KILL on a loaded machine
  // can outlast a bound): the first fatal signal is the one reaped.
  if ((end == BatchEnd::kTimedOut || end == BatchEnd::kWatchdog) && stub.exit() &&
      !stub.exit()->killed_by(SIGKILL))
    out.end = BatchEnd::kStubDied;
  out.asleep = out.end == BatchEnd::kTimedOut && waited.asleep;
  out.exit = stub.exit();
  out.count = count;
  stub.read_results({out.results.data(), count});
  return out;
}

Result<BatchOutcome> run_batch(Stub& stub, std::span<const stub_record> records,
                               milliseconds timeout) {
  auto end = start_and_wait(stub, records, {.timeout = timeout});
  if (!end) return end.error();
  return settle(stub, *end, static_cast<uint32_t>(records.size()));
}

}  // namespace stubfuzz
