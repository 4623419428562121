#include "monitor/rules.h"

#include <linux/audit.h>
#include <sys/syscall.h>

#include <algorithm>
#include <cerrno>
#include <iterator>

namespace stubfuzz {

namespace {

constexpr int32_t kDenyErrno = EPERM;

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

Answer decide(const MonitorRules& rules, const seccomp_data& d, uint64_t stub_start,
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

bool notified_by(const MonitorRules& rules, uint32_t nr) {
  return (nr == SYS_mmap && rules.answers_mmap) || (nr == SYS_munmap && rules.validates_munmap);
}

}  // namespace stubfuzz
