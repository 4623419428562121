// The profile of UML's own stub from a user's kernel tree (--uml-tree): the
// claims and known findings of the built-in profile the tree corresponds to
// (`listener` with the series' 1/7, `mainline` without), and the filter
// the tree's stub really installs, read back from a running one.
#pragma once

#include <string>

#include "base/result.h"
#include "profile/profile.h"

namespace stubfuzz {

// Needs root: the filter is read with PTRACE_SECCOMP_GET_FILTER.
Result<Profile> profile_from_uml_tree(const std::string& dir, bool sandboxed = true);

}  // namespace stubfuzz
