// `stubfuzz matrix`: fuzzes every built-in profile for the same time, judging
// every claim (not only the profile's), and shows which class of finding each
// step of the series closes: one row per class, one column per profile.
#pragma once

#include <chrono>
#include <ostream>
#include <string>
#include <vector>

#include "base/result.h"
#include "profile/findings.h"

namespace stubfuzz::campaign {

struct MatrixOptions {
  std::string target;                 // libFuzzer build of fuzz_stub_syscalls
  std::vector<std::string> profiles;  // columns, in order
  std::chrono::seconds time{120};     // per profile
  int jobs = 1;                       // profiles fuzzed at once
  std::string out_dir;
  std::vector<std::string> seeds;  // seed corpus directories
  std::string dict;
  std::string regressions;  // where each row's committed reproducer lives
  // UML's own stub from this tree (absolute), as the column kUmlTreeColumn.
  std::string uml_tree;
};
inline constexpr const char* kUmlTreeColumn = "uml-tree";

struct MatrixCell {
  bool found = false;
  double seconds = 0;        // since the profile's campaign began
  std::string program_file;  // the first program, as the fuzzer found it
};

struct MatrixResult {
  std::vector<std::string> profiles;
  std::vector<uint64_t> execs;  // per profile
  std::chrono::seconds time{0};
  std::vector<std::string> rows;               // classes of finding (profile/findings.h)
  std::vector<std::string> reproducers;        // per row; "" when none is committed
  std::vector<std::vector<MatrixCell>> cells;  // [row][profile]
};

Result<MatrixResult> run_matrix(const MatrixOptions& o, std::ostream& status);

// Rows from the files a finished run left in `out_dir` (for re-rendering).
Result<MatrixResult> read_matrix(const MatrixOptions& o);

std::string to_text(const MatrixResult& m);
std::string to_markdown(const MatrixResult& m);
// The data behind both, for scripts/plot attack-matrix (docs/json.md).
std::string to_json(const MatrixResult& m);

}  // namespace stubfuzz::campaign
