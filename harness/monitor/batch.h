// One batch of records in a stub, from the monitor's side: hand them over,
// wait for both threads within the bounds, settle the stub (a stub that
// overran is killed, a dead one reaped) and read the results. The waiting
// and every bound on it live here; the stub itself is a passive handle.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <optional>
#include <span>

#include "base/result.h"
#include "kernel/sys.h"
#include "stub/stub.h"

namespace stubfuzz {

// How a batch ended: the one outcome every caller reads.
enum class BatchEnd {
  kCompleted,  // every record returned
  kStubDied,   // the stub ended while a record ran (see exit)
  kTimedOut,   // a record blocked past a bound: the stub was killed
  kWatchdog,   // no progress for the watchdog's bound: the monitor killed it
};
const char* to_string(BatchEnd e);

struct BatchOutcome {
  BatchEnd end = BatchEnd::kCompleted;
  std::optional<kernel::Exit> exit;
  uint32_t count = 0;
  std::array<stub_result, STUB_MAX_RECORDS> results{};
  // kTimedOut seen from /proc before any bound ran out: every thread asleep
  // in a call that only a wake-up nobody sends, or a timeout longer than
  // the bound, could end.
  bool asleep = false;
  std::span<const stub_result> view() const { return {results.data(), count}; }
};

// The bounds a batch is waited for with, as given; each is paced() to the
// machine when the wait begins.
struct BatchBounds {
  std::chrono::milliseconds timeout{1000};  // the whole batch
  // The series' 6/7: the monitor kills a stub that makes no progress this long.
  std::optional<std::chrono::milliseconds> watchdog;
  // The harness's own: a stub that makes no progress this long is blocked
  // (kTimedOut), however long the batch's timeout. With it (and no
  // watchdog), a record whose every thread sleeps in a syscall that only a
  // wake-up nobody will send could end is blocked at once (monitor/batch.cc).
  std::optional<std::chrono::milliseconds> stall;
  // A notification of the stub's is pending or being answered: the stub
  // will be woken, so it is not blocked yet.
  std::function<bool()> notification_pending;
  // Progress made outside the records (notifications answered).
  std::function<uint64_t()> progress;
};

// How the wait ended; `asleep` as BatchOutcome::asleep.
struct WaitEnd {
  BatchEnd end = BatchEnd::kCompleted;
  bool asleep = false;
};

// Hands `records` to `stub` and waits; the stub is left as it is (running,
// if a bound fired), for the caller to look at before settle().
Result<WaitEnd> start_and_wait(Stub& stub, std::span<const stub_record> records,
                               const BatchBounds& bounds);
// Kills a stub that overran, reaps a dead one and reads the results.
Result<BatchOutcome> settle(Stub& stub, WaitEnd end, uint32_t count);

// Both, with no monitor rules: the plain batch of the seed's claims.
Result<BatchOutcome> run_batch(Stub& stub, std::span<const stub_record> records,
                               std::chrono::milliseconds timeout = std::chrono::milliseconds(1000));
inline Result<BatchOutcome> run_batch(
    Stub& stub, std::initializer_list<stub_record> records,
    std::chrono::milliseconds timeout = std::chrono::milliseconds(1000)) {
  return run_batch(stub, std::span<const stub_record>(records.begin(), records.size()), timeout);
}

}  // namespace stubfuzz
