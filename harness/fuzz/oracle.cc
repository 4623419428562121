#include "fuzz/oracle.h"

#include <linux/audit.h>
#include <signal.h>
#include <sys/syscall.h>

#include <algorithm>
#include <array>
#include <utility>

#include "filter/syscall_names.h"
#include "fuzz/claim_rules.h"
#include "stub/record.h"

namespace stubfuzz::fuzz {

namespace {

bool killed_by_filter(const Observation& o) {
  return o.kind == Observed::kKilled && o.exit && o.exit->killed_by(SIGSYS);
}

// Returned, blocked, or ran and then brought the stub down (rt_sigreturn with
// garbage, munmap of its own stack): a death by any signal but SIGSYS.
bool executed(const Observation& o) {
  return o.kind == Observed::kReturned || o.kind == Observed::kBlocked ||
         o.kind == Observed::kWatchdog || (o.kind == Observed::kKilled && !killed_by_filter(o));
}

// int $0x80 without the i386 ABI: the general-protection fault's SIGSEGV.
bool faulted(const Observation& o) {
  return o.kind == Observed::kKilled && o.exit && o.exit->killed_by(SIGSEGV);
}

// Whether what the kernel did is what the model predicted.
bool matches(const filter::Prediction& p, const Observation& o) {
  using filter::Action;
  switch (p.path) {
    case filter::Path::kNoAbi:
      return faulted(o);
    case filter::Path::kExempt:
      return executed(o);
    case filter::Path::kFiltered:
      break;
  }
  const uint16_t data = filter::ret_data(p.ret);
  switch (p.action()) {
    case Action::kAllow:
    case Action::kLog:
      return executed(o);
    case Action::kErrno:
      // The kernel caps the errno at MAX_ERRNO.
      return o.kind == Observed::kReturned &&
             o.ret == -static_cast<int64_t>(std::min<uint16_t>(data, 4095));
    case Action::kTrap:
      return o.kind == Observed::kTrapped && o.trap_errno == data;
    case Action::kKillProcess:
    case Action::kKillThread:
      return killed_by_filter(o);
    case Action::kUserNotif:
      // Waiting for an answer (unread, or held while the second thread ran)
      // until a bound ended the stub.
      if (o.kind == Observed::kBlocked || o.kind == Observed::kWatchdog) return true;
      if (!o.answer) return false;
      switch (*o.answer) {
        case Answer::kContinued:
          return executed(o);
        case Answer::kDenied:
          return o.kind == Observed::kReturned && o.ret == -int64_t{o.answer_error};
        case Answer::kGone:  // answered by someone else, or the stub died
          return o.kind != Observed::kTrapped;
      }
      return false;
    case Action::kTrace:
      return o.kind == Observed::kReturned && o.ret == -ENOSYS;
  }
  return false;
}

// Calls that can take away the code a later record jumps to (or, like
// rt_sigreturn, send the stub anywhere), by libseccomp's names in each ABI.
bool changes_address_space(const Observation& o) {
  static const auto numbers = [] {
    std::array<std::vector<uint32_t>, 2> by_abi;
    for (auto arch : {filter::Arch::kX86_64, filter::Arch::kI386})
      for (std::string_view name : {"munmap", "mmap", "mmap2", "mremap", "mprotect", "brk",
                                    "madvise", "shmdt", "rt_sigreturn", "sigreturn"})
        if (auto nr = filter::syscall_number(arch, name); nr && *nr >= 0)
          by_abi[arch == filter::Arch::kI386].push_back(static_cast<uint32_t>(*nr));
    return by_abi;
  }();
  const auto& list = numbers[o.resolved.abi == STUB_ABI_I386];
  return std::find(list.begin(), list.end(), o.resolved.nr) != list.end();
}

bool in_stub_page(uint64_t addr, const StubLayout& l) {
  return addr >= l.stub_start && addr < l.stub_start + STUB_PAGE_SIZE;
}

bool documented(const Profile& p, FindingId id) {
  return std::any_of(p.known_findings.begin(), p.known_findings.end(),
                     [&](const KnownFinding& f) { return f.id == id; });
}

// What the rules need to know of one record, then every rule of fuzz/claim_rules.h.
void judge_record(const Profile& profile, const Program& program, const Execution& ex, size_t i,
                  const RecordVerdict& v, const BreachSink& breach) {
  const Observation& o = ex.records[i];
  // Returned, but denied by a filter or by the monitor: it did not run. A
  // notified call runs on CONTINUE, the monitor's or anyone's.
  const auto action = v.action();
  const bool notif_ran = o.answer == Answer::kContinued ||
                         (o.kind == Observed::kReturned && o.answer != Answer::kDenied);
  const bool denied =
      (v.agrees && (action == filter::Action::kErrno || action == filter::Action::kTrace)) ||
      (action == filter::Action::kUserNotif && !notif_ran);
  const bool i386 = o.resolved.abi == STUB_ABI_I386;
  JudgedRecord r{profile, program, ex, i, o, v};
  r.inside = in_stub_page(o.insn_addr, ex.layout);
  // Without the ABI, int $0x80 is no syscall: nothing ran, nothing trapped.
  r.no_syscall = v.path == filter::Path::kNoAbi;
  r.ran = executed(o) && !denied && !r.no_syscall;
  r.exempt_ran = v.path == filter::Path::kExempt && executed(o);
  r.fd = i386 ? static_cast<uint32_t>(o.resolved.args[0]) : o.resolved.args[0];
  for (const RecordRule& rule : record_rules()) rule.judge(r, breach);
}

}  // namespace

bool Judgement::violated() const { return first_violation() != nullptr; }

const Breach* Judgement::first_violation() const {
  for (const auto& b : breaches)
    if (!b.known) return &b;
  return nullptr;
}

Judgement judge(const Profile& profile, const StubConfig& config, const Program& program,
                const Execution& ex, bool every_claim, const kernel::Facts& facts) {
  using namespace finding;
  const filter::Program& filter = config.filter;
  Judgement j;
  const BreachSink breach = [&](ClaimId claim, FindingId cls, size_t i, std::string detail) {
    const bool known = documented(profile, cls);
    if (!every_claim && claim != ClaimId::kModelAgrees && !profile.makes(claim) && !known) return;
    j.breaches.push_back({claim, cls, known, i, std::move(detail)});
  };

  // The model, once per record: the filter under test, and with the safety
  // net by the kernel's precedence.
  std::vector<RecordVerdict> verdicts(ex.records.size());
  j.records.reserve(ex.records.size());
  for (size_t i = 0; i < ex.records.size(); i++) {
    RecordVerdict& v = verdicts[i];
    v.data = record_data(ex.records[i].resolved, ex.records[i].insn_addr);
    static_cast<filter::Prediction&>(v) = filter::predict(filter, config.safety_net, facts, v.data);
  }
  // A filter's KILL_PROCESS on one thread also ends the record the other
  // thread was running: that record's death is not its own.
  std::vector<bool> killer(ex.records.size(), false);
  for (size_t i = 0; i < ex.records.size(); i++) {
    const Observation& o = ex.records[i];
    killer[i] = killed_by_filter(o) && o.resolved.abi != STUB_ABI_SPIN &&
                verdicts[i].path == filter::Path::kFiltered &&
                verdicts[i].action() == filter::Action::kKillProcess;
  }
  auto collateral = [&](size_t i) {
    if (!killed_by_filter(ex.records[i]) || killer[i]) return false;
    for (size_t k = 0; k < ex.records.size(); k++)
      if (killer[k] && ex.records[k].resolved.thread != ex.records[i].resolved.thread) return true;
    return false;
  };

  // Whether a call that can take code away ran before record i: an earlier
  // record of its thread, or any of the other thread's, which runs while the
  // first waits or after it, whatever its index.
  auto address_space_changed = [&](size_t i) {
    for (size_t k = 0; k < ex.records.size(); k++) {
      const Observation& c = ex.records[k];
      if (k == i || c.resolved.abi == STUB_ABI_SPIN || !executed(c) || !changes_address_space(c))
        continue;
      if (k < i || c.resolved.thread != ex.records[i].resolved.thread) return true;
    }
    return false;
  };
  for (size_t i = 0; i < ex.records.size(); i++) {
    const Observation& o = ex.records[i];
    RecordVerdict v;
    v.data = verdicts[i].data;
    if (o.kind == Observed::kNotRun || o.kind == Observed::kRefused) {
      j.records.push_back(v);
      continue;
    }
    if (collateral(i)) {
      v.inconclusive = true;
      j.records.push_back(v);
      continue;
    }
    if (o.kind == Observed::kKilled && !killed_by_filter(o) && address_space_changed(i)) {
      v.inconclusive = true;
      j.records.push_back(v);
      continue;
    }
    if (o.resolved.abi == STUB_ABI_SPIN) {  // no syscall: nothing for the filter to judge
      j.records.push_back(v);
      if (o.kind == Observed::kBlocked)
        breach(ClaimId::kStallKilled, kStubStall, i,
               "the stub spun until the harness's bound and nothing killed it");
      continue;
    }
    v = std::move(verdicts[i]);  // read once: each record's own verdict
    v.agrees = matches(v, o);
    j.records.push_back(std::move(v));
    judge_record(profile, program, ex, i, j.records.back(), breach);
  }
  judge_batch(ex, breach);
  return j;
}

std::string describe(const Program& program, const Execution& ex, const Judgement& j) {
  std::string out;
  for (size_t i = 0; i < program.records.size() && i < ex.records.size(); i++) {
    const Observation& o = ex.records[i];
    std::string line = "  " + std::to_string(i) + ": " + to_text(program.records[i]);
    line.resize(std::max<size_t>(line.size(), 60), ' ');
    const bool inconclusive = i < j.records.size() && j.records[i].inconclusive;
    line += " model ";
    line += i < j.records.size() && o.kind != Observed::kNotRun && o.kind != Observed::kRefused &&
                    !inconclusive && o.resolved.abi != STUB_ABI_SPIN
                ? filter::describe(j.records[i])
                : std::string("-");
    line += ", kernel ";
    line += to_string(o.kind);
    if (o.kind == Observed::kReturned) line += " " + std::to_string(o.ret);
    if (o.answer)
      line += std::string(" (monitor: ") + to_string(*o.answer) +
              (*o.answer == Answer::kDenied ? std::string(" ") + errno_name(o.answer_error) : "") +
              ")";
    if (o.kind == Observed::kKilled && o.exit) line += " (" + kernel::describe(*o.exit) + ")";
    if (inconclusive)
      line +=
          "  (not judged: killed by the other thread's record, or after a record changed the "
          "address space)";
    std::string marks;
    for (const auto& b : j.breaches) {
      if (b.record != i) continue;
      const std::string mark = b.known ? "  <- known finding " + std::string(b.class_name())
                                       : "  <- BREAKS " + std::string(b.claim_name());
      if (marks.find(mark) == std::string::npos) marks += mark;
    }
    line += marks;
    out += line + "\n";
  }
  return out;
}

}  // namespace stubfuzz::fuzz
