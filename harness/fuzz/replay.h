// Replaying a crash or corpus file: libFuzzer's crash-*/timeout-* files,
// AFL++'s crashes/id:* files (both the binary form) and text programs alike.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "fuzz/oracle.h"
#include "profile/profile.h"

namespace stubfuzz::fuzz {

// A text program if the file parses as one, else the binary form. Empty,
// unreadable or record-less files are errors naming the file.
Result<Program> load_program(const std::string& path);

// The profile a program file names in a "# profile: NAME" comment line
// (regression reproducers do), or "" if none.
std::string profile_named_in(const std::string& path);

// Files named on the command line; directories contribute their regular
// files (not recursively), sorted.
Result<std::vector<std::string>> expand_inputs(const std::vector<std::string>& args);

struct ReplayResult {
  Program program;
  Execution execution;
  Judgement judgement;
};
Result<ReplayResult> replay(Executor& executor, const Profile& profile, const Program& program,
                            bool every_claim = false);
void print_replay(const std::string& path, const ReplayResult& r, std::ostream& out);

}  // namespace stubfuzz::fuzz
