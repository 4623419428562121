// The subcommands of `stubfuzz`, each returning the process exit code:
// 0 success, 1 a claim broken or a finding, 2 bad input (one error line).
#pragma once

#include <string>
#include <vector>

#include "base/result.h"
#include "campaign/campaign.h"
#include "profile/profile.h"
#include "profile/uml_profile.h"

namespace stubfuzz::cli {

inline constexpr int kExitFailed = 1;
inline constexpr int kExitUsage = 2;

// Prints "stubfuzz: <message>" and returns `code`.
int fail(const std::string& message, int code = kExitUsage);

// --profile NAME, or --filter FILE judged by --claims NAME.
struct ProfileChoice {
  std::string profile{kDefaultProfile};
  std::string filter;
  std::string claims{kDefaultProfile};
  std::string uml_tree;        // or UML's own stub from this kernel tree
  bool unsafe = false;         // no sandbox
  bool profile_given = false;  // --profile on the command line
  Result<Profile> resolve() const;
  // For one input file: --profile if given, else the "# profile:" it names.
  Result<Profile> resolve_for(const std::string& file) const;
};

int run_doctor(bool json);
int run_check(const ProfileChoice& choice, bool json);
int run_replay(const ProfileChoice& choice, const std::vector<std::string>& inputs,
               bool every_claim);
int run_minimize(const ProfileChoice& choice, const std::string& input, const std::string& out);

struct ExplainOptions {
  bool json = false;
  bool verify = false;
  size_t per_row = 3;
  std::string emit;  // "", "bpf" or "asm"
  std::string out;   // for --emit; "-" is stdout (asm only)
};
int run_explain(const ProfileChoice& choice, const ExplainOptions& o);

struct FuzzOptions {
  std::string engine = "libfuzzer";
  int seconds = 60;
  int jobs = 1;
  std::string out;
  std::string target;
};
int run_fuzz(const ProfileChoice& choice, const FuzzOptions& o, const std::string& self);

struct MatrixCliOptions {
  int seconds = 120;  // per profile
  int jobs = 2;
  std::vector<std::string> profiles;  // default: every built-in
  std::string out;
  std::string target;
  std::string uml_tree;  // one more column: UML's stub from this tree
};
int run_matrix(const MatrixCliOptions& o, const std::string& self);

}  // namespace stubfuzz::cli
