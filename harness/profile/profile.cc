#include "profile/profile.h"

#include <linux/seccomp.h>

#include "filter/filter_file.h"
#include "filter/safety_net.h"
#include "filter/uml_filter.h"

namespace stubfuzz {

namespace {

constexpr uint64_t kSeedFlags =
    SECCOMP_FILTER_FLAG_TSYNC | SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_TSYNC_ESRCH;

filter::Program uml_filter(const StubLayout& l) { return filter::uml_stub_filter(l.stub_start); }

KnownFinding edge_below_page() {
  return {"syscall-just-below-stub-page", ClaimId::kOutsideTraps,
          "the filter checks the address after the syscall instruction, so an "
          "instruction in the last 2 bytes before the stub page counts as the page's",
          "at(STUB-2) mmap(0, 4096, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0)"};
}

KnownFinding kernel_skips_seccomp() {
  KnownFinding f{"kernel-skips-seccomp-for-nr-335-336", ClaimId::kModelAgrees,
                 "this kernel runs x86-64 syscalls 335 and 336 without consulting the "
                 "filter: from outside the stub page they execute instead of trapping",
                 "outside syscall_335()\noutside syscall_336()"};
  f.kernel_specific = true;
  return f;
}

std::vector<Profile> make_builtins() {
  std::vector<Profile> p;
  p.push_back({"mainline",
               "UML's seccomp stub filter before the series: TSYNC, no listener",
               SECCOMP_FILTER_FLAG_TSYNC,
               uml_filter,
               {ClaimId::kOutsideTraps, ClaimId::kStubAllowlist},
               {edge_below_page(), kernel_skips_seccomp()}});
  p.push_back({"listener",
               "patch 1/7: the same filter with NEW_LISTENER|TSYNC|TSYNC_ESRCH, the "
               "listener pulled with pidfd_getfd",
               kSeedFlags,
               uml_filter,
               {ClaimId::kListenerFd1, ClaimId::kNoListenerIoctl, ClaimId::kOutsideTraps,
                ClaimId::kStubAllowlist, ClaimId::kListenerSurvives},
               {{"close-listener-from-stub-page", ClaimId::kNoSelfClose,
                 "close is allowlisted, so close(1) from the stub page executes and the "
                 "stub's copy of the listener is gone",
                 "stub close(LISTENER)"},
                edge_below_page(),
                kernel_skips_seccomp()}});
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
