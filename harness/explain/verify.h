// Checks an explanation against the kernel: each matrix cell becomes one
// syscall record in a real stub under the filter, and the observed outcome
// is compared with the model's. Cells the model says would really execute
// a call that is not harmless are listed, never run.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/result.h"
#include "explain/explain.h"
#include "filter/program.h"
#include "stub/stub.h"

namespace stubfuzz::explain {

struct VerifyOptions {
  StubLayout layout;
  // 0: every syscall of every row; n: the first n of each row (rows fold
  // syscalls the model treats alike, so a few are a fair sample).
  size_t per_row = 0;
};

struct Cell {
  filter::Arch arch;
  int nr;
  std::string name;
  Column column;
  uint64_t ip;
  std::string predicted;
  std::string observed;  // "" when not run
};

struct VerifyReport {
  size_t cells_run = 0;
  size_t stubs_spawned = 0;
  std::vector<Cell> disagreements;
  std::vector<Cell> not_run;  // the model says it would execute for real

  bool agrees() const { return disagreements.empty(); }
};

// The stub runs the filter with no flags: no listener, so USER_NOTIF (like
// TRACE without a tracer) answers ENOSYS instead of blocking.
Result<VerifyReport> verify(const filter::Program& prog, const VerifyOptions& options = {});

std::string to_text(const VerifyReport& r);
nlohmann::json to_json(const VerifyReport& r);

}  // namespace stubfuzz::explain
