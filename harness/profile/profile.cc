#include "profile/profile.h"

#include <linux/seccomp.h>
#include <sys/syscall.h>

#include <algorithm>

#include "filter/filter_file.h"
#include "filter/safety_net.h"
#include "filter/uml_filter.h"
#include "stub/uml_stub.h"

namespace stubfuzz {

namespace {

constexpr uint64_t kSeedFlags =
    SECCOMP_FILTER_FLAG_TSYNC | SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_TSYNC_ESRCH;

filter::Program uml_filter(const StubLayout& l) { return filter::uml_stub_filter(l.stub_start); }

// The allowlist with `notified` moved to USER_NOTIF.
std::function<filter::Program(const StubLayout&)> notifying(std::vector<uint32_t> notified) {
  return [notified](const StubLayout& l) {
    std::vector<uint32_t> allow;
    for (uint32_t nr : filter::uml_stub_allowlist())
      if (std::find(notified.begin(), notified.end(), nr) == notified.end()) allow.push_back(nr);
    return filter::uml_stub_filter(l.stub_start, allow, notified);
  };
}

KnownFinding known(FindingId id) { return finding_class(id); }

constexpr std::chrono::milliseconds kWatchdogBound{5};

std::vector<Profile> make_builtins() {
  using namespace finding;
  std::vector<Profile> p;
  Profile mainline{"mainline",
                   "UML's seccomp stub filter before the series: TSYNC, no listener",
                   SECCOMP_FILTER_FLAG_TSYNC,
                   uml_filter,
                   {},
                   {ClaimId::kOutsideTraps, ClaimId::kStubAllowlist},
                   {known(kBelowEdge), known(kSeccompExemption)}};
  p.push_back(mainline);

  Profile listener{"listener",
                   "patch 1/7: the same filter with NEW_LISTENER|TSYNC|TSYNC_ESRCH, the "
                   "listener pulled with pidfd_getfd",
                   kSeedFlags,
                   uml_filter,
                   {},
                   {ClaimId::kListenerFd1, ClaimId::kNoListenerIoctl, ClaimId::kOutsideTraps,
                    ClaimId::kStubAllowlist, ClaimId::kListenerSurvives},
                   {known(kCloseListener), known(kBelowEdge), known(kSeccompExemption)}};
  p.push_back(listener);

  Profile mmap = listener;
  mmap.name = "notify-mmap";
  mmap.summary =
      "patches 2/7 and 3/7: the stub's mmap is notified; the monitor reads one notification "
      "per queued mmap and lets through only what it queued";
  mmap.make_filter = notifying({SYS_mmap});
  mmap.monitor.answers_mmap = mmap.monitor.validates_mmap = true;
  mmap.claims.push_back(ClaimId::kMmapValidated);
  p.push_back(mmap);

  Profile drain = mmap;
  drain.name = "notify-drain";
  drain.summary = "patch 4/7: the monitor also drains the listener after every wait";
  drain.monitor.drains = true;
  drain.claims.push_back(ClaimId::kNoMonitorHang);
  p.push_back(drain);

  Profile munmap = drain;
  munmap.name = "notify-munmap";
  munmap.summary =
      "patch 5/7: munmap is notified too, allowed only for a non-empty, non-wrapping range "
      "below the stub";
  munmap.make_filter = notifying({SYS_mmap, SYS_munmap});
  munmap.monitor.validates_munmap = true;
  munmap.claims.push_back(ClaimId::kMunmapValidated);
  p.push_back(munmap);

  Profile watchdog = munmap;
  watchdog.name = "watchdog";
  watchdog.summary = "patch 6/7: a stub that makes no progress for 5 ms is killed";
  watchdog.monitor.watchdog = kWatchdogBound;
  watchdog.claims.push_back(ClaimId::kStallKilled);
  p.push_back(watchdog);

  Profile hardened = watchdog;
  hardened.name = "hardened";
  hardened.summary =
      "stubfuzz's own: the whole series, syscalls only from the stub page's two syscall "
      "instructions, close only for fd >= 2";
  hardened.make_filter = [](const StubLayout& l) {
    return filter::hardened_stub_filter(l.stub_start);
  };
  hardened.claims.push_back(ClaimId::kNoSelfClose);
  hardened.known_findings = {known(kSeccompExemption)};
  p.push_back(hardened);
  return p;
}

}  // namespace

bool Profile::wants_listener() const { return seccomp_flags & SECCOMP_FILTER_FLAG_NEW_LISTENER; }

bool Profile::makes(ClaimId c) const {
  for (auto x : claims)
    if (x == c) return true;
  return false;
}

StubConfig Profile::stub_config(const StubLayout& layout, bool pooled) const {
  StubConfig c;
  c.layout = layout;
  c.filter = make_filter(layout);
  c.seccomp_flags = seccomp_flags;
  c.sandbox.enabled = sandboxed;
  c.sandbox.shared_pid_ns = pooled;
  // In a pid namespace of its own the stub is pid 1 and may signal itself;
  // otherwise its pid is not known in advance (and pid 1 may be the host's
  // init), so no signal may leave it.
  c.safety_net = filter::safety_net(has_own_pid_ns(c.sandbox) ? 1 : 0);
  if (uml_tree) {
    // UML's stub_exe installs its own filter and nothing else.
    c.uml = uml_tree;
    c.layout = uml_layout(*uml_tree, layout);
    c.safety_net.clear();
  }
  return c;
}

std::span<const Profile> builtin_profiles() {
  static const std::vector<Profile> profiles = make_builtins();
  return profiles;
}

Result<const Profile*> find_profile(std::string_view name) {
  std::string known;
  for (const auto& p : builtin_profiles()) {
    if (p.name == name) return &p;
    known += (known.empty() ? "" : ", ") + p.name;
  }
  return Error{"unknown profile '" + std::string(name) + "' (built-in: " + known + ")", EINVAL};
}

Result<Profile> profile_from_filter_file(const std::string& path, std::string_view claims_of) {
  auto base = find_profile(claims_of);
  if (!base) return base.error();
  Profile p = **base;
  filter::FilterFileOptions options;
  options.stub_start = StubLayout{}.stub_start;
  auto prog = filter::load_filter_file(path, options);
  if (!prog) return prog.error();
  p.name = path + " (claims of " + p.name + ")";
  p.summary = "a user filter from " + path;
  p.make_filter = [prog = *prog](const StubLayout&) { return prog; };
  return p;
}

}  // namespace stubfuzz
