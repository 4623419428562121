#include "explain/verify.h"

#include <algorithm>
#include <cstdio>
#include <optional>

#include "explain/outcome.h"
#include "filter/evaluator.h"
#include "filter/predict.h"
#include "kernel/facts.h"
#include "monitor/batch.h"
#include "stub/record.h"

namespace stubfuzz::explain {

namespace {

using filter::Arch;

// Calls that may run for real in a stub: they read, never change, state.
bool harmless(Arch arch, const std::string& name) {
  static const char* const kNames[] = {"getpid",    "getppid",  "gettid",   "getuid",
                                       "geteuid",   "getgid",   "getegid",  "getuid32",
                                       "geteuid32", "getgid32", "getegid32"};
  (void)arch;
  return std::find(std::begin(kNames), std::end(kNames), name) != std::end(kNames);
}

stub_record cell_record(const Cell& c, const StubLayout& l, const Points& p) {
  const Abi abi = c.arch == Arch::kI386 ? Abi::kI386 : Abi::kX86_64;
  const auto nr = static_cast<uint32_t>(c.nr);
  switch (c.column) {
    case Column::kStubPage:
      return make_record(Origin::kStub, abi, nr, {});
    case Column::kOutside:
      return make_record(Origin::kOutside, abi, nr, {});
    case Column::kBeforePage:
      return make_record(Origin::kAddress, abi, nr, {}, l.stub_start - 2);
    case Column::kAlias:
      return make_record(Origin::kAddress, abi, nr, {}, l.alias_page() + p.alias_offset);
  }
  return {};
}

std::string hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof(buf), "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

class Runner {
 public:
  Runner(const filter::Program& prog, const VerifyOptions& o) : prog_(prog), opt_(o) {}

  Result<VerifyReport> run(std::vector<Cell> cells) {
    size_t i = 0;
    while (i < cells.size()) {
      if (!stub_ || !stub_->usable()) {
        StubConfig config;
        config.filter = prog_;
        config.layout = opt_.layout;
        auto s = Stub::spawn(config);
        if (!s) return s.error();
        stub_.emplace(std::move(*s));
        report_.stubs_spawned++;
      }
      const size_t n = std::min<size_t>(STUB_MAX_RECORDS, cells.size() - i);
      std::vector<stub_record> batch;
      const Points p{.stub_start = opt_.layout.stub_start};
      for (size_t j = 0; j < n; j++) batch.push_back(cell_record(cells[i + j], opt_.layout, p));
      auto out = run_batch(*stub_, batch);
      if (!out) return out.error();
      size_t done = 0;
      for (; done < n; done++) {
        const stub_result& r = out->results[done];
        if (r.status == STUB_RESULT_PENDING) break;
        check(cells[i + done], batch[done], r, *out);
      }
      i += done;
      if (out->end != BatchEnd::kCompleted) stub_.reset();
    }
    return std::move(report_);
  }

 private:
  void check(Cell c, const stub_record& rec, const stub_result& r, const BatchOutcome& b) {
    // The model again, at the exact address this stub used.
    const uint64_t insn = insn_addr(rec, stub_->data());
    c.ip = insn + kSyscallInsnLen;
    const auto p = filter::predict(prog_, {}, kernel::facts(), record_data(rec, insn));
    c.predicted = predicted_outcome(p.ret, p.path);
    c.observed = observed_outcome(r, b);
    report_.cells_run++;
    if (r.trapped && r.trap_call_addr != c.ip) c.observed += " at " + hex(r.trap_call_addr);
    if (!agrees(c.predicted, c.observed)) report_.disagreements.push_back(std::move(c));
  }

  const filter::Program& prog_;
  VerifyOptions opt_;
  std::optional<Stub> stub_;
  VerifyReport report_;
};

}  // namespace

Result<VerifyReport> verify(const filter::Program& prog, const VerifyOptions& options) {
  const Points points{.stub_start = options.layout.stub_start};
  const Explanation e = explain(prog, points);
  if (!e.check_error.empty())
    return Error{"the kernel refuses the filter: " + e.check_error, EINVAL};
  std::vector<Cell> cells, not_run;
  for (const Row& row : e.rows) {
    const size_t n = options.per_row ? std::min(options.per_row, row.nrs.size()) : row.nrs.size();
    for (size_t i = 0; i < n; i++) {
      for (Column c : kColumns) {
        Cell cell{row.arch,
                  row.nrs[i],
                  row.names[i],
                  c,
                  points.ip(c, row.arch),
                  predicted_outcome(row.rets[static_cast<size_t>(c)],
                                    filter::path_of(kernel::facts(), filter::audit_arch(row.arch),
                                                    static_cast<uint32_t>(row.nrs[i]))),
                  ""};
        // The outside column's real address is only known in a stub; its
        // verdict there is re-checked, but safety is judged on the model's.
        if ((cell.predicted == "ALLOW" || cell.predicted == "UNFILTERED") &&
            !harmless(row.arch, row.names[i]))
          not_run.push_back(std::move(cell));
        else
          cells.push_back(std::move(cell));
      }
    }
  }
  auto report = Runner(prog, options).run(std::move(cells));
  if (report) report->not_run = std::move(not_run);
  return report;
}

std::string to_text(const VerifyReport& r) {
  std::string out = std::to_string(r.cells_run) + " cells run in " +
                    std::to_string(r.stubs_spawned) +
                    " stubs: " + std::to_string(r.disagreements.size()) + " disagreements, " +
                    std::to_string(r.not_run.size()) + " not run (would execute)\n";
  for (const Cell& c : r.disagreements)
    out += "  DISAGREE " + std::string(filter::arch_name(c.arch)) + " " + c.name + " from " +
           to_string(c.column) + " (ip " + hex(c.ip) + "): model " + c.predicted + ", kernel " +
           c.observed + "\n";
  for (const Cell& c : r.not_run)
    out += "  not run: would execute " + std::string(filter::arch_name(c.arch)) + " " + c.name +
           " from " + to_string(c.column) + "\n";
  return out;
}

nlohmann::json to_json(const VerifyReport& r) {
  auto cell = [](const Cell& c) {
    return nlohmann::json{{"arch", filter::arch_name(c.arch)},
                          {"syscall", c.name},
                          {"nr", c.nr},
                          {"column", json_key(c.column)},
                          {"ip", hex(c.ip)},
                          {"model", c.predicted},
                          {"kernel", c.observed}};
  };
  nlohmann::json j{{"cells_run", r.cells_run},
                   {"stubs_spawned", r.stubs_spawned},
                   {"agrees", r.agrees()},
                   {"disagreements", nlohmann::json::array()},
                   {"not_run", nlohmann::json::array()}};
  for (const Cell& c : r.disagreements) j["disagreements"].push_back(cell(c));
  for (const Cell& c : r.not_run) j["not_run"].push_back(cell(c));
  return j;
}

}  // namespace stubfuzz::explain
