// The monitor's rules: which of the series' patches it applies and the
// answer each gives a notification. Pure functions of the notification and
// of what the monitor queued; monitor/service.h applies them to a listener.
#pragma once

#include <linux/seccomp.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <vector>

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

// The rules make the stub's `nr` a notification the monitor reads.
bool notified_by(const MonitorRules& rules, uint32_t nr);

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

// The answer the rules give a notification, given what is still queued
// (consumed on CONTINUE).
Answer decide(const MonitorRules& rules, const seccomp_data& d, uint64_t stub_start,
              std::vector<QueuedCall>& queued, int32_t* error);

struct AnsweredNotification {
  uint32_t record = 0;  // the stub's current record when it was received
  seccomp_data data{};
  Answer answer = Answer::kDenied;
  int32_t error = 0;  // for kDenied
};

}  // namespace stubfuzz
