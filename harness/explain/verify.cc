#include "explain/verify.h"

#include <errno.h>
#include <sys/syscall.h>

#include <algorithm>
#include <cstdio>
#include <optional>

#include "explain/conditions.h"
#include "explain/outcome.h"
#include "filter/evaluator.h"
#include "filter/predict.h"
#include "kernel/facts.h"
#include "monitor/batch.h"
#include "monitor/monitor.h"
#include "stub/record.h"

namespace stubfuzz::explain {

namespace {

using filter::Arch;

// Calls that may run for real in a stub: they read, never change, state.
bool harmless(const std::string& name) {
  static const char* const kNames[] = {"getpid",    "getppid",  "gettid",     "getuid",
                                       "geteuid",   "getgid",   "getegid",    "getuid32",
                                       "geteuid32", "getgid32", "getegid32",  "getsid",
                                       "getpgid",   "getpgrp",  "getpriority"};
  return std::find(std::begin(kNames), std::end(kNames), name) != std::end(kNames);
}

// The stub holds fd 0 (its socket) and at most fd 1 (the listener); these
// calls check their fd first, so any other fd fails EBADF and does nothing.
bool takes_fd_first(const std::string& name) {
  static const char* const kNames[] = {
      "ioctl",    "fcntl",     "fcntl64",   "close",     "dup",    "fstat",      "read",
      "write",    "readv",     "writev",    "fsync",     "fchmod", "lseek",      "pread64",
      "pwrite64", "fadvise64", "fdatasync", "ftruncate", "fchown", "getdents64", "fstatfs"};
  return std::find(std::begin(kNames), std::end(kNames), name) != std::end(kNames);
}
constexpr uint64_t kClosedFd = 1000;
constexpr int kAnyError = -1;

// The errors that make an allowed call with `args` do nothing, or none if
// it might act. `fd_free`: args[0] is untested by the case, so a closed fd
// may be put there.
std::vector<int> own_errors(Arch arch, const std::string& name, std::array<uint64_t, 6>& args,
                            bool fd_free) {
  if (takes_fd_first(name)) {
    if (fd_free) args[0] = kClosedFd;
    if (static_cast<uint32_t>(args[0]) >= 2) return {EBADF};
  }
  // i386's mmap is old_mmap: its arguments are a struct at args[0].
  if (name == "mmap" && arch == Arch::kI386)
    return args[0] == 0 ? std::vector{EFAULT} : std::vector<int>{};
  // A zero length never maps; which error comes first depends on the flags.
  if ((name == "mmap" || name == "mmap2") && args[1] == 0) return {kAnyError};
  if (name == "munmap" && args[1] == 0) return {EINVAL};
  // A query about a process that is not there (a probe's pid is arbitrary).
  if (name == "getsid" || name == "getpgid" || name == "getpriority") return {ESRCH, EINVAL};
  // flock checks its operation before its fd.
  if (name == "flock" && fd_free) args[0] = kClosedFd;
  if (name == "flock" && static_cast<uint32_t>(args[0]) >= 2) return {EBADF, EINVAL};
  // No mask to copy out to: fails on the length or the pointer.
  if (name == "sched_getaffinity" && args[2] == 0) return {EINVAL, EFAULT};
  return {};
}

stub_record cell_record(const Cell& c, const StubLayout& l, const Points& p) {
  const Abi abi = c.arch == Arch::kI386 ? Abi::kI386 : Abi::kX86_64;
  const auto nr = static_cast<uint32_t>(c.nr);
  const auto& a = c.args;
  const std::initializer_list<uint64_t> args{a[0], a[1], a[2], a[3], a[4], a[5]};
  switch (c.column) {
    case Column::kStubPage:
      return make_record(Origin::kStub, abi, nr, args);
    case Column::kOutside:
      return make_record(Origin::kOutside, abi, nr, args);
    case Column::kBeforePage:
      return make_record(Origin::kAddress, abi, nr, args, l.stub_start - 2);
    case Column::kAlias:
      return make_record(Origin::kAddress, abi, nr, args, l.alias_page() + p.alias_offset);
  }
  return {};
}

// What the kernel should show for `d`: the model's verdict, and for
// USER_NOTIF under a listener, the profile's monitor's answer.
std::string expected(const filter::Program& prog, const seccomp_data& d, const VerifyOptions& o) {
  const auto p = filter::predict(prog, {}, kernel::facts(), d);
  if (p.path == filter::Path::kFiltered && p.action() == filter::Action::kUserNotif &&
      (o.seccomp_flags & SECCOMP_FILTER_FLAG_NEW_LISTENER))
    return notified_outcome(o.monitor, d, o.layout.stub_start);
  return predicted_outcome(p.ret, p.path);
}

bool notified(const filter::Program& prog, const seccomp_data& d, const VerifyOptions& o) {
  return (o.seccomp_flags & SECCOMP_FILTER_FLAG_NEW_LISTENER) &&
         filter::action_of(filter::evaluate(prog, d, {false, false}).ret) ==
             filter::Action::kUserNotif;
}

class Runner {
 public:
  Runner(const filter::Program& prog, const VerifyOptions& o)
      : prog_(prog), opt_(o), monitor_(o.monitor) {}

  Result<VerifyReport> run(std::vector<Cell> cells) {
    size_t i = 0;
    while (i < cells.size()) {
      if (!stub_ || !stub_->usable()) {
        StubConfig config;
        config.filter = prog_;
        config.layout = opt_.layout;
        config.seccomp_flags = opt_.seccomp_flags;
        auto s = Stub::spawn(config);
        if (!s) return s.error();
        stub_.emplace(std::move(*s));
        report_.stubs_spawned++;
      }
      const size_t n = std::min<size_t>(STUB_MAX_RECORDS, cells.size() - i);
      std::vector<stub_record> batch;
      const Points p{.stub_start = opt_.layout.stub_start};
      for (size_t j = 0; j < n; j++) batch.push_back(cell_record(cells[i + j], opt_.layout, p));
      auto out = monitor_.run(*stub_, batch, {}, std::chrono::milliseconds(1000));
      if (!out) return out.error();
      size_t done = 0;
      for (; done < n; done++) {
        const stub_result& r = out->outcome.results[done];
        if (r.status == STUB_RESULT_PENDING) break;
        check(cells[i + done], batch[done], r, out->outcome);
      }
      i += done;
      if (out->outcome.end != BatchEnd::kCompleted) stub_.reset();
    }
    return std::move(report_);
  }

 private:
  void check(Cell c, const stub_record& rec, const stub_result& r, const BatchOutcome& b) {
    // The model again, at the exact address this stub used.
    const uint64_t insn = insn_addr(rec, stub_->data());
    c.ip = insn + kSyscallInsnLen;
    const seccomp_data d = record_data(rec, insn);
    c.predicted = expected(prog_, d, opt_);
    c.observed = observed_outcome(r, b);
    report_.cells_run++;
    if (notified(prog_, d, opt_)) report_.notified_cells_run++;
    if (r.trapped && r.trap_call_addr != c.ip) c.observed += " at " + hex(r.trap_call_addr);
    const bool ok = agrees(c.predicted, c.observed) || fails_on_its_own(c);
    if (!c.condition.empty()) report_.condition_cells.push_back(c);
    if (!ok) report_.disagreements.push_back(std::move(c));
  }

  static bool fails_on_its_own(const Cell& c) {
    if (c.predicted != "ALLOW" && c.predicted != "UNFILTERED") return false;
    return std::any_of(c.own_errors.begin(), c.own_errors.end(), [&](int e) {
      return e == kAnyError ? c.observed.starts_with("ERRNO(")
                            : c.observed == "ERRNO(" + std::to_string(e) + ")";
    });
  }

  const filter::Program& prog_;
  VerifyOptions opt_;
  Monitor monitor_;
  std::optional<Stub> stub_;
  VerifyReport report_;
};

struct Probe {
  std::array<uint64_t, 6> args{};
  std::string condition;
  bool fd_free = true;
  std::optional<uint32_t> ret;  // the case's verdict
};

// One probe per cell, or for an argument-dependent cell the lowest and the
// highest arguments of every case.
std::vector<Probe> probes(const Row& row, Column c) {
  const auto& cond = row.conditions[static_cast<size_t>(c)];
  if (!cond) return {Probe{}};
  std::vector<Probe> out;
  for (const auto& k : cond->verdicts.cases) {
    const std::string when =
        filter::action_name(k.ret) + " if " + describe(row.arch, row.names.front(), k.tests);
    const bool fd_free = std::none_of(k.tests.begin(), k.tests.end(),
                                      [](const filter::ArgTest& t) { return t.arg() == 0; });
    out.push_back({k.lowest, when, fd_free, k.ret});
    if (k.highest != k.lowest) out.push_back({k.highest, when, fd_free, k.ret});
  }
  return out;
}

}  // namespace

Result<VerifyReport> verify(const filter::Program& prog, const VerifyOptions& options) {
  const Points points{.stub_start = options.layout.stub_start};
  const Explanation e = explain(prog, points);
  if (!e.check_error.empty())
    return Error{"the kernel refuses the filter: " + e.check_error, EINVAL};
  std::vector<Cell> cells, not_run, inconsistent;
  for (const Row& row : e.rows) {
    const size_t n = options.per_row ? std::min(options.per_row, row.nrs.size()) : row.nrs.size();
    for (size_t i = 0; i < n; i++) {
      for (Column c : kColumns) {
        for (Probe& probe : probes(row, c)) {
          Cell cell{row.arch, row.nrs[i], row.names[i],    c, points.ip(c, row.arch), "",
                    "",       probe.args, probe.condition, {}};
          const std::string name = row.names[i];
          cell.own_errors = own_errors(row.arch, name, cell.args, probe.fd_free);
          const auto d =
              filter::make_seccomp_data(cell.nr, filter::audit_arch(row.arch), cell.ip, cell.args);
          cell.predicted = expected(prog, d, options);
          // The case must be what the model does at its own example.
          if (const uint32_t model = filter::evaluate(prog, d, {false, false}).ret;
              probe.ret && model != *probe.ret) {
            cell.predicted = filter::action_name(model);
            cell.observed = "explain's case says " + filter::action_name(*probe.ret);
            inconsistent.push_back(cell);
          }
          // The outside column's real address is only known in a stub; its
          // verdict there is re-checked, but safety is judged on the model's.
          if ((cell.predicted == "ALLOW" || cell.predicted == "UNFILTERED") && !harmless(name) &&
              cell.own_errors.empty())
            not_run.push_back(std::move(cell));
          else
            cells.push_back(std::move(cell));
        }
      }
    }
  }
  auto report = Runner(prog, options).run(std::move(cells));
  if (report) {
    report->not_run = std::move(not_run);
    for (Cell& c : inconsistent) report->disagreements.push_back(std::move(c));
  }
  return report;
}

std::string to_text(const VerifyReport& r) {
  std::string out =
      std::to_string(r.cells_run) + " cells run in " + std::to_string(r.stubs_spawned) +
      " stubs (" + std::to_string(r.condition_cells.size()) + " probes of argument conditions, " +
      std::to_string(r.notified_cells_run) +
      " answered by the monitor): " + std::to_string(r.disagreements.size()) + " disagreements, " +
      std::to_string(r.not_run.size()) + " not run (would execute)\n";
  const auto args = [](const Cell& c) {
    if (c.condition.empty()) return std::string();
    std::string s;
    for (uint64_t a : c.args) s += (s.empty() ? "" : ", ") + hex(a);
    return " with args (" + s + ") [" + c.condition + "]";
  };
  for (const Cell& c : r.disagreements)
    out += "  DISAGREE " + std::string(filter::arch_name(c.arch)) + " " + c.name + " from " +
           to_string(c.column) + " (ip " + hex(c.ip) + ")" + args(c) + ": model " + c.predicted +
           ", kernel " + c.observed + "\n";
  for (const Cell& c : r.not_run)
    out += "  not run: would execute " + std::string(filter::arch_name(c.arch)) + " " + c.name +
           " from " + to_string(c.column) + args(c) + "\n";
  return out;
}

nlohmann::json to_json(const VerifyReport& r) {
  auto cell = [](const Cell& c) {
    nlohmann::json j{{"arch", filter::arch_name(c.arch)},
                     {"syscall", c.name},
                     {"nr", c.nr},
                     {"column", json_key(c.column)},
                     {"ip", hex(c.ip)},
                     {"model", c.predicted},
                     {"kernel", c.observed}};
    if (!c.condition.empty()) {
      j["condition"] = c.condition;
      for (uint64_t a : c.args) j["args"].push_back(hex(a));
    }
    // -1: any error (a zero-length mmap never maps).
    if (!c.own_errors.empty()) j["own_errors"] = c.own_errors;
    return j;
  };
  nlohmann::json j{{"cells_run", r.cells_run},
                   {"condition_cells", nlohmann::json::array()},
                   {"notified_cells_run", r.notified_cells_run},
                   {"stubs_spawned", r.stubs_spawned},
                   {"agrees", r.agrees()},
                   {"disagreements", nlohmann::json::array()},
                   {"not_run", nlohmann::json::array()}};
  for (const Cell& c : r.disagreements) j["disagreements"].push_back(cell(c));
  for (const Cell& c : r.not_run) j["not_run"].push_back(cell(c));
  for (const Cell& c : r.condition_cells) j["condition_cells"].push_back(cell(c));
  return j;
}

}  // namespace stubfuzz::explain
