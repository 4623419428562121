#include "check/lab.h"

#include <signal.h>

#include <algorithm>

#include "filter/predict.h"
#include "kernel/facts.h"

namespace stubfuzz {

Result<Stub> Lab::spawn() {
  auto s = Stub::spawn(profile_.stub_config());
  if (!s)
    failures_.push_back("spawn: " + s.error().message);
  else
    stubs_++;
  return s;
}

Result<BatchOutcome> Lab::run(Stub& stub, std::span<const stub_record> records) {
  auto o = run_batch(stub, records);
  if (!o) {
    failures_.push_back("run: " + o.error().message);
    return o;
  }
  for (const auto& r : o->view())
    if (r.status != STUB_RESULT_PENDING) syscalls_++;
  return o;
}

bool Lab::expect(bool ok, const std::string& failure) {
  if (!ok) failures_.push_back(failure);
  return ok;
}

bool Lab::expect_trapped(const BatchOutcome& o, uint32_t i, uint32_t nr, uint32_t arch,
                         uint64_t call_addr, const std::string& what) {
  const stub_result& r = o.results[i];
  if (r.status != STUB_RESULT_DONE)
    return expect(false, what + ": did not return (" + to_string(o.end) + ")");
  return expect(r.trapped && r.trap_syscall == static_cast<int32_t>(nr) && r.trap_arch == arch &&
                    r.trap_call_addr == call_addr,
                what + ": expected SIGSYS for nr " + std::to_string(nr) + ", got " +
                    (r.trapped ? "SIGSYS for nr " + std::to_string(r.trap_syscall)
                               : "return " + std::to_string(r.ret)));
}

bool Lab::expect_killed(const BatchOutcome& o, uint32_t i, const std::string& what) {
  const bool killed = o.end == BatchEnd::kStubDied && o.exit && o.exit->killed_by(SIGSYS) &&
                      o.results[i].status == STUB_RESULT_RUNNING;
  return expect(killed, what + ": expected the stub killed by SIGSYS, got " +
                            (o.exit ? kernel::describe(*o.exit) : to_string(o.end)) +
                            (o.results[i].status == STUB_RESULT_DONE
                                 ? ", return " + std::to_string(o.results[i].ret)
                                 : ""));
}

bool Lab::expect_killed(const BatchOutcome& o, uint32_t i, const stub_record& rec,
                        const std::string& what) {
  if (o.results[i].status == STUB_RESULT_BAD_RECORD && rec.origin == STUB_ORIGIN_STUB &&
      rec.abi == STUB_ABI_I386) {
    // UML's own x86-64 stub page may hold no int $0x80, not even inside
    // another instruction: no call from it can be i386.
    note(
        "the stub page has no int $0x80 (nor those bytes inside an instruction): i386 calls "
        "from it cannot be made");
    return true;
  }
  if (rec.abi != STUB_ABI_I386 || kernel::facts().i386_abi) return expect_killed(o, i, what);
  note(filter::path_reason({.path = filter::Path::kNoAbi}));
  const bool faulted = o.end == BatchEnd::kStubDied && o.exit && o.exit->killed_by(SIGSEGV) &&
                       o.results[i].status == STUB_RESULT_RUNNING;
  return expect(faulted, what + ": no i386 ABI, expected the stub killed by SIGSEGV, got " +
                             (o.exit ? kernel::describe(*o.exit) : to_string(o.end)));
}

void Lab::note(const std::string& why) {
  if (std::find(notes_.begin(), notes_.end(), why) == notes_.end()) notes_.push_back(why);
}

bool Lab::expect_returned(const BatchOutcome& o, uint32_t i, const std::string& what) {
  const stub_result& r = o.results[i];
  return expect(r.status == STUB_RESULT_DONE && !r.trapped,
                what + ": expected it to execute, got " +
                    (r.trapped ? std::string("SIGSYS") : to_string(o.end)));
}

}  // namespace stubfuzz
