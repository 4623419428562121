// The file contract between `stubfuzz matrix` and the fuzz target
// (fuzzers/fuzz_stub_syscalls.cc): with STUBFUZZ_MATRIX_DIR set
// (campaign/target_env.h), the target writes the first program of each class
// of finding to found_file(dir, class), whose first line is found_header().
#pragma once

#include <optional>
#include <string>

#include "profile/findings.h"

namespace stubfuzz::campaign {

std::string found_file(const std::string& dir, FindingId cls);
std::string found_header(double seconds);
// The seconds in a found file's header; nullopt if there is none.
std::optional<double> found_seconds(const std::string& path);

}  // namespace stubfuzz::campaign
