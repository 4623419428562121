// A profile: what is tested. A filter program, its install flags, the
// monitor's rules, and the claims it makes, with the known findings it
// documents. The built-ins follow the series step by step.
#pragma once

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "filter/program.h"
#include "monitor/monitor.h"
#include "profile/claim.h"
#include "profile/findings.h"
#include "stub/stub.h"

namespace stubfuzz {

struct Profile {
  std::string name;
  std::string summary;
  uint64_t seccomp_flags = 0;
  std::function<filter::Program(const StubLayout&)> make_filter;
  // How the monitor answers notifications: the series' later patches.
  MonitorRules monitor;
  std::vector<ClaimId> claims;
  std::vector<KnownFinding> known_findings;
  // Run stubs in the sandbox (stub/sandbox.h). Only `--unsafe` turns it off.
  bool sandboxed = true;
  // UML's own stub from a user's tree instead of stubfuzz's
  // (profile/uml_profile.h).
  std::shared_ptr<const uml::Tree> uml_tree = nullptr;

  bool wants_listener() const;
  bool makes(ClaimId c) const;
  // `pooled`: for a StubPool, whose stubs share one pid namespace.
  StubConfig stub_config(const StubLayout& layout = {}, bool pooled = false) const;
};

std::span<const Profile> builtin_profiles();
// An unknown name is an error that lists the known ones.
Result<const Profile*> find_profile(std::string_view name);
inline constexpr std::string_view kDefaultProfile = "listener";

// A user's filter file, judged by the monitor rules, claims and known
// findings of the built-in `claims_of` (a user's filter is most often an
// edit of a built-in, and its documented deviations still apply).
Result<Profile> profile_from_filter_file(const std::string& path, std::string_view claims_of);

}  // namespace stubfuzz
