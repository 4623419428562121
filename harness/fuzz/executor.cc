#include "fuzz/executor.h"

#include <signal.h>

#include <algorithm>

#include "stub/record.h"
#include "stub/traceless.h"

namespace stubfuzz::fuzz {

const char* to_string(Observed o) {
  switch (o) {
    case Observed::kNotRun:
      return "not run";
    case Observed::kRefused:
      return "refused";
    case Observed::kReturned:
      return "returned";
    case Observed::kTrapped:
      return "SIGSYS";
    case Observed::kKilled:
      return "killed";
    case Observed::kBlocked:
      return "blocked";
    case Observed::kWatchdog:
      return "killed by the watchdog";
  }
  return "?";
}

const char* to_string(ProgramClass c) {
  switch (c) {
    case ProgramClass::kTrappedOnly:
      return "trapped only";
    case ProgramClass::kExecuted:
      return "executed";
    case ProgramClass::kKilled:
      return "killed";
    case ProgramClass::kBlocked:
      return "blocked";
    case ProgramClass::kSpun:
      return "spun";
  }
  return "?";
}

ProgramClass classify(const Execution& ex) {
  bool executed = false;
  for (const Observation& o : ex.records) {
    switch (o.kind) {
      case Observed::kKilled:
        return ProgramClass::kKilled;
      case Observed::kBlocked:
      case Observed::kWatchdog:
        return o.resolved.abi == STUB_ABI_SPIN ? ProgramClass::kSpun : ProgramClass::kBlocked;
      case Observed::kReturned:
        executed = true;
        break;
      default:
        break;
    }
  }
  return executed ? ProgramClass::kExecuted : ProgramClass::kTrappedOnly;
}

namespace {

// A record that makes no progress for this long is blocked: syscalls that
// return do so in microseconds, and a stub starved of CPU is given more time.
constexpr std::chrono::milliseconds kStallBound{15};

// Every program may put records on the second thread; it needs TSYNC.
StubConfig with_second_thread(StubConfig c) {
  c.second_thread = !c.install_filter || (c.seccomp_flags & SECCOMP_FILTER_FLAG_TSYNC);
  return c;
}

}  // namespace

Executor::Executor(const Profile& profile, std::chrono::milliseconds record_bound)
    : pool_(with_second_thread(profile.stub_config({}, /*pooled=*/true)), StubPool::kDefaultDepth,
            StubPool::Source::kFactory),
      monitor_(profile.monitor, kStallBound),
      record_bound_(record_bound) {}

bool may_have_changed_stub(const Observation& o) {
  if (o.kind != Observed::kReturned) return false;
  // Denied by the monitor: the kernel returned its error without the call.
  if (o.answer == Answer::kDenied) return false;
  return !leaves_no_trace(o.resolved, o.ret);
}

Result<Stub*> Executor::ready_stub() {
  if (stub_ && stub_->usable() && !stub_dirty_) {
    // UML's stub cannot be reset; it is reused only after programs that
    // trapped (stub_dirty_ says so).
    if (!stub_->resettable()) return &*stub_;
    if (stub_->reset()) {
      resets_++;
      return &*stub_;
    }
  }
  if (stub_) pool_.retire(std::move(*stub_));
  stub_.reset();
  auto s = pool_.take();
  if (!s) return s.error();
  used_++;
  stub_.emplace(std::move(*s));
  stub_dirty_ = false;
  return &*stub_;
}

namespace {

// What the stub runs and the monitor expects, and an observation per record
// with its symbols resolved.
struct Batch {
  std::vector<stub_record> records;
  std::vector<QueuedCall> queued;
};

Batch resolve_program(const Program& p, const Stub& s, Execution& ex) {
  Batch batch;
  batch.records.reserve(p.records.size());
  ex.records.reserve(ex.records.size() + p.records.size());
  for (const Record& r : p.records) {
    Observation o;
    o.resolved = resolve(r, ex.layout);
    o.insn_addr = r.spin ? 0 : insn_addr(o.resolved, s.data());
    batch.records.push_back(o.resolved);
    if (r.site.kind == SiteKind::kQueued) {
      QueuedCall q{o.resolved.nr, {}};
      std::copy(std::begin(o.resolved.args), std::end(o.resolved.args), q.args);
      batch.queued.push_back(q);
    }
    ex.records.push_back(o);
  }
  return batch;
}

// What the kernel did with one record, from its result and the batch's end.
void observe(Observation& o, const stub_result& r, const BatchOutcome& out) {
  o.ret = r.ret;
  o.trap_errno = r.trap_errno;
  // As run: PENDING became the id the monitor held when the record began.
  for (int a = 0; a < 6; a++)
    if (o.resolved.pending & (1u << a)) o.resolved.args[a] = r.pending_id;
  switch (r.status) {
    case STUB_RESULT_PENDING:
      o.kind = Observed::kNotRun;
      break;
    case STUB_RESULT_BAD_RECORD:
      o.kind = Observed::kRefused;
      break;
    case STUB_RESULT_DONE:
      o.kind = r.trapped ? Observed::kTrapped : Observed::kReturned;
      break;
    case STUB_RESULT_RUNNING:
      o.kind = out.end == BatchEnd::kTimedOut   ? Observed::kBlocked
               : out.end == BatchEnd::kWatchdog ? Observed::kWatchdog
                                                : Observed::kKilled;
      o.exit = out.exit;
      break;
  }
}

}  // namespace

Result<Execution> Executor::run(const Program& p) {
  auto stub = ready_stub();
  if (!stub) return stub.error();
  Stub& s = **stub;
  Execution ex;
  ex.layout = s.layout();
  const Batch batch = resolve_program(p, s, ex);
  // &resp{id=PENDING}: CONTINUE, the id filled in by the stub.
  if (std::any_of(batch.records.begin(), batch.records.end(),
                  [](const stub_record& r) { return r.pending & STUB_PENDING_RESP; })) {
    seccomp_notif_resp resp{};
    resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
    if (auto w = s.write_scratch({reinterpret_cast<const uint8_t*>(&resp), sizeof(resp)},
                                 STUB_RESP_OFFSET);
        !w)
      return w.error();
  }
  auto monitored =
      monitor_.run(s, batch.records, batch.queued,
                   record_bound_ * static_cast<int>(std::max<size_t>(1, batch.records.size())));
  if (!monitored) return monitored.error();
  ex.monitor_hang = monitored->hang;
  for (const auto& a : monitored->answers) {
    if (a.record >= ex.records.size()) continue;
    ex.records[a.record].answer = a.answer;
    ex.records[a.record].answer_error = a.error;
  }
  for (size_t i = 0; i < ex.records.size(); i++) {
    observe(ex.records[i], monitored->outcome.results[i], monitored->outcome);
    // A call that ran may have changed the stub: the next program gets a
    // fresh one, unless the call is known to leave no trace.
    if (ex.records[i].kind == Observed::kReturned &&
        (!s.resettable() || may_have_changed_stub(ex.records[i])))
      stub_dirty_ = true;
  }
  ex.stub_survived = monitored->outcome.end == BatchEnd::kCompleted;
  if (ex.stub_survived && s.listener()) {
    auto valid = s.listener()->id_valid(0x5eed);
    auto ev = s.listener()->wait(std::chrono::milliseconds(0));
    ex.listener_ok = valid.ok() && !*valid && ev.ok() && *ev == kernel::ListenerEvent::kNone;
    // Not a start state to reset to.
    if (!ex.listener_ok) stub_dirty_ = true;
  }
  return ex;
}

}  // namespace stubfuzz::fuzz
