// Runs a fuzz program in a real stub of a profile and observes, per record,
// what the kernel did. A stub that is alive after a program is reset
// (Stub::reset) and reused if its executed calls left no trace
// (stub/traceless.h); anything else that may have changed its state (any
// other executed call, a death) costs a fresh one, so a program's outcome
// never depends on the programs before it.
#pragma once

#include <chrono>
#include <optional>
#include <vector>

#include "fuzz/program.h"
#include "monitor/monitor.h"
#include "profile/profile.h"
#include "stub/stub.h"
#include "stub/stub_pool.h"

namespace stubfuzz::fuzz {

enum class Observed {
  kNotRun,    // an earlier record ended the stub
  kRefused,   // the stub refused the record (no such site)
  kReturned,  // returned without SIGSYS: executed, or denied with an errno
  kTrapped,   // SIGSYS, not executed
  kKilled,    // the stub died in this record
  kBlocked,   // did not return within the bound; the stub was killed
  kWatchdog,  // made no progress; the monitor's watchdog killed the stub
};
const char* to_string(Observed o);

struct Observation {
  Observed kind = Observed::kNotRun;
  stub_record resolved{};  // as run, symbols resolved
  uint64_t insn_addr = 0;  // the real address of the syscall instruction
  int64_t ret = 0;
  int32_t trap_errno = 0;            // RET_DATA of a trap
  std::optional<kernel::Exit> exit;  // for kKilled
  // The monitor received a notification for this record and answered it.
  std::optional<Answer> answer;
  int32_t answer_error = 0;  // for Answer::kDenied
};

struct Execution {
  StubLayout layout;
  std::vector<Observation> records;
  bool stub_survived = false;
  // listener-survives: the monitor's copy answered and had not hung up
  // while the stub lived.
  bool listener_ok = true;
  // Where UML's monitor would have blocked forever (monitor/monitor.h).
  MonitorHang monitor_hang = MonitorHang::kNone;
};

// What became of a program's stub, which decides what the program cost:
// a stub that only trapped is reset and reused, one that executed calls is
// too if they left no trace, and one that was killed, blocked or spun is
// replaced.
enum class ProgramClass { kTrappedOnly, kExecuted, kKilled, kBlocked, kSpun };
inline constexpr ProgramClass kProgramClasses[] = {ProgramClass::kTrappedOnly,
                                                   ProgramClass::kExecuted, ProgramClass::kKilled,
                                                   ProgramClass::kBlocked, ProgramClass::kSpun};
const char* to_string(ProgramClass c);
ProgramClass classify(const Execution& ex);

class Executor {
 public:
  explicit Executor(const Profile& profile,
                    std::chrono::milliseconds record_bound = std::chrono::milliseconds(100));
  Result<Execution> run(const Program& p);

  const filter::Program& filter() const { return pool_.config().filter; }
  const StubConfig& config() const { return pool_.config(); }
  const StubLayout& layout() const { return pool_.config().layout; }
  uint64_t stubs_used() const { return used_; }
  // Stubs put back to their start state and reused.
  uint64_t stubs_reset() const { return resets_; }

 private:
  Result<Stub*> ready_stub();

  StubPool pool_;
  Monitor monitor_;
  std::chrono::milliseconds record_bound_;
  std::optional<Stub> stub_;
  bool stub_dirty_ = false;
  uint64_t used_ = 0;
  uint64_t resets_ = 0;
};

// Whether a record that ran may have changed its stub: a call executed
// (kReturned) that the monitor did not deny and that is not on the
// traceless list.
bool may_have_changed_stub(const Observation& o);

}  // namespace stubfuzz::fuzz
