// Checks an explanation against the kernel: each matrix cell becomes one
// syscall record in a real stub under the filter, and the observed outcome
// is compared with the model's. A cell whose verdict depends on the
// arguments is probed on every case, at the lowest and the highest
// arguments that take it: both sides of each condition. Cells the model
// says would really execute a call that is not harmless are listed, never
// run; a call that fails on its own arguments (a closed fd, a zero length)
// counts as harmless.
#pragma once

#include <array>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/result.h"
#include "explain/explain.h"
#include "filter/program.h"
#include "monitor/rules.h"
#include "stub/stub.h"

namespace stubfuzz::explain {

struct VerifyOptions {
  StubLayout layout;
  // 0: every syscall of every row; n: the first n of each row (rows fold
  // syscalls the model treats alike, so a few are a fair sample).
  size_t per_row = 0;
  // The profile's install flags and monitor. With a listener, USER_NOTIF
  // cells are answered by the monitor's rules (verify queues nothing);
  // without one, USER_NOTIF (like TRACE without a tracer) answers ENOSYS.
  uint64_t seccomp_flags = 0;
  MonitorRules monitor;
};

struct Cell {
  filter::Arch arch;
  int nr;
  std::string name;
  Column column;
  uint64_t ip;
  std::string predicted;
  std::string observed;  // "" when not run
  std::array<uint64_t, 6> args{};
  // The argument case probed ("ALLOW if args[1].lo == ..."), "" for a
  // cell whose verdict does not depend on the arguments.
  std::string condition;
  // Errors the call itself returns for these arguments when the filter
  // lets it run: what "ALLOW" looks like from inside the stub.
  std::vector<int> own_errors;
};

struct VerifyReport {
  size_t cells_run = 0;
  size_t notified_cells_run = 0;  // of them, answered by the monitor
  size_t stubs_spawned = 0;
  std::vector<Cell> disagreements;
  std::vector<Cell> condition_cells;  // every probe of an argument case, as run
  std::vector<Cell> not_run;          // the model says it would execute for real

  bool agrees() const { return disagreements.empty(); }
};

Result<VerifyReport> verify(const filter::Program& prog, const VerifyOptions& options = {});

std::string to_text(const VerifyReport& r);
nlohmann::json to_json(const VerifyReport& r);

}  // namespace stubfuzz::explain
