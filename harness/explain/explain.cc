#include "explain/explain.h"

#include <algorithm>
#include <cstdio>
#include <map>

#include "explain/conditions.h"
#include "explain/outcome.h"
#include "filter/arg_conditions.h"
#include "filter/asm.h"
#include "filter/evaluator.h"
#include "filter/validate.h"
#include "kernel/facts.h"

namespace stubfuzz::explain {

namespace {

using filter::Arch;

// A group this large prints as "all other ... syscalls" rather than by name.
constexpr size_t kRestThreshold = 8;

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

std::string label(const Row& r, bool only_row) {
  const std::string n = std::to_string(r.names.size());
  if (r.rest) return (only_row ? "all syscalls (" : "all other syscalls (") + n + ")";
  return join(r.names);
}

}  // namespace

const char* to_string(Column c) {
  switch (c) {
    case Column::kStubPage:
      return "stub page";
    case Column::kOutside:
      return "outside";
    case Column::kBeforePage:
      return "before page";
    case Column::kAlias:
      return "upper alias";
  }
  return "?";
}

const char* json_key(Column c) {
  switch (c) {
    case Column::kStubPage:
      return "stub_page";
    case Column::kOutside:
      return "outside";
    case Column::kBeforePage:
      return "before_page";
    case Column::kAlias:
      return "upper_alias";
  }
  return "?";
}

uint64_t Points::ip(Column c, Arch a) const {
  switch (c) {
    case Column::kStubPage:
      return stub_start + kStubGateIpOffset[a == Arch::kI386 ? 1 : 0];
    case Column::kOutside:
      return outside_ip;
    case Column::kBeforePage:
      return stub_start;  // the instruction ends where the page starts
    case Column::kAlias:
      return stub_start + (uint64_t{1} << 32) + alias_offset + 2;
  }
  return 0;
}

namespace {

// One syscall's verdicts per column, with the argument cases where they
// differ; a filter the analysis cannot follow keeps the all-zero verdict.
Row syscall_row(const filter::Program& prog, const Points& points, Arch arch,
                const filter::Syscall& s) {
  Row r{arch, {s.nr}, {s.name}, false, {}, {}, ""};
  for (Column c : kColumns) {
    const auto i = static_cast<size_t>(c);
    auto data = filter::make_seccomp_data(s.nr, filter::audit_arch(arch), points.ip(c, arch));
    r.rets[i] = filter::evaluate(prog, data, {.trace = false, .comparisons = false}).ret;
    filter::ArgVerdicts v = filter::arg_verdicts(prog, data);
    if (!v.incomplete.empty()) {
      if (r.args_unknown.empty()) r.args_unknown = std::string(to_string(c)) + ": " + v.incomplete;
      continue;
    }
    if (!v.depends_on_args()) continue;
    r.conditions[i] = conditions_of(std::move(v));
    r.rets[i] = r.conditions[i]->otherwise;
  }
  return r;
}

}  // namespace

bool Row::depends_on_args() const {
  return std::any_of(conditions.begin(), conditions.end(),
                     [](const auto& c) { return c.has_value(); });
}

std::vector<std::string> kernel_notes(const kernel::Facts& f) {
  std::vector<std::string> notes;
  if (!f.i386_abi)
    notes.push_back("no i386 row applies on this kernel (" + f.release +
                    "): without the i386 ABI, int $0x80 faults (SIGSEGV) before seccomp");
  for (const auto* list : {&f.exempt_x86_64, &f.exempt_i386})
    for (const auto& x : *list) {
      const auto arch = list == &f.exempt_i386 ? filter::Arch::kI386 : filter::Arch::kX86_64;
      const std::string name = filter::syscall_name(arch, static_cast<int>(x.nr));
      notes.push_back(std::string(filter::arch_name(arch)) + " " + std::to_string(x.nr) +
                      (name.empty() ? "" : " (" + name + ")") +
                      " never meets the filter on this kernel, from any column: " + x.effect);
    }
  return notes;
}

Explanation explain(const filter::Program& prog, const Points& points) {
  Explanation e;
  e.kernel_notes = kernel_notes(kernel::facts());
  e.points = points;
  e.instructions = prog.size();
  if (auto f = filter::check_program(prog)) e.check_error = f->message;
  e.disassembly = filter::disassemble(prog, {.stub_start = points.stub_start});
  for (Arch arch : {Arch::kX86_64, Arch::kI386}) {
    std::map<std::array<uint32_t, 4>, Row> groups;
    std::vector<Row> rows;
    for (const filter::Syscall& s : filter::syscalls(arch)) {
      Row r = syscall_row(prog, points, arch, s);
      if (r.depends_on_args() || !r.args_unknown.empty()) {
        rows.push_back(std::move(r));
        continue;
      }
      Row& row = groups.try_emplace(r.rets, std::move(r)).first->second;
      if (row.nrs.empty() || row.nrs.back() != s.nr) {
        row.nrs.push_back(s.nr);
        row.names.push_back(s.name);
      }
    }
    for (auto& [rets, row] : groups) rows.push_back(std::move(row));
    // Named groups first, by first syscall number; the biggest group last.
    std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) {
      return a.names.size() != b.names.size() ? a.names.size() < b.names.size()
                                              : a.nrs.front() < b.nrs.front();
    });
    if (!rows.empty() && rows.back().names.size() >= kRestThreshold) rows.back().rest = true;
    for (auto& r : rows) e.rows.push_back(std::move(r));
  }
  return e;
}

std::string to_text(const Explanation& e) {
  std::string out = "filter: " + std::to_string(e.instructions) + " instructions, stub page " +
                    hex(e.points.stub_start) + "-" + hex(e.points.stub_start + 4096) + "\n";
  if (!e.check_error.empty()) out += "the kernel refuses it: " + e.check_error + "\n";
  out += "\n" + e.disassembly +
         "\nverdicts by where the syscall instruction is "
         "(ip = the address after it, as the kernel reports):\n";
  for (Column c : kColumns) {
    char line[160];
    std::snprintf(line, sizeof(line), "  %-12s ip %s (i386 %s)\n", to_string(c),
                  hex(e.points.ip(c, Arch::kX86_64)).c_str(),
                  hex(e.points.ip(c, Arch::kI386)).c_str());
    out += line;
  }
  out += "\n";
  char head[200];
  std::snprintf(head, sizeof(head), "%-7s %-14s %-14s %-14s %-14s %s\n", "arch", "stub page",
                "outside", "before page", "upper alias", "syscalls");
  out += head;
  for (const Row& r : e.rows) {
    const bool only = std::count_if(e.rows.begin(), e.rows.end(),
                                    [&](const Row& o) { return o.arch == r.arch; }) == 1;
    std::string cells;
    for (size_t i = 0; i < r.rets.size(); i++) {
      char cell[32];
      const std::string mark = r.conditions[i] ? "*" : "";
      std::snprintf(cell, sizeof(cell), "%-14s ", (filter::action_name(r.rets[i]) + mark).c_str());
      cells += cell;
    }
    out += std::string(filter::arch_name(r.arch)) +
           std::string(8 - filter::arch_name(r.arch).size(), ' ') + cells + label(r, only) + "\n";
    for (Column c : kColumns)
      if (const auto& cond = r.conditions[static_cast<size_t>(c)])
        out += "        * " + std::string(to_string(c)) + ": " + r.names.front() + ": " +
               to_text(r.arch, r.names.front(), *cond) + "\n";
    if (!r.args_unknown.empty())
      out += "        arguments not analysed (" + r.args_unknown +
             "): the verdicts are for all-zero arguments\n";
  }
  if (std::any_of(e.rows.begin(), e.rows.end(), [](const Row& r) { return r.depends_on_args(); }))
    out += "  * depends on the arguments: the verdict shown is the one for all other values\n";
  for (const auto& n : e.kernel_notes) out += "  note: " + n + "\n";
  return out;
}

nlohmann::json to_json(const Explanation& e) {
  nlohmann::json j;
  j["stub_start"] = hex(e.points.stub_start);
  j["instructions"] = e.instructions;
  j["accepted"] = e.check_error.empty();
  if (!e.check_error.empty()) j["check_error"] = e.check_error;
  j["disassembly"] = e.disassembly;
  for (Column c : kColumns)
    j["columns"].push_back({{"name", json_key(c)},
                            {"ip",
                             {{"x86_64", hex(e.points.ip(c, Arch::kX86_64))},
                              {"i386", hex(e.points.ip(c, Arch::kI386))}}}});
  for (const Row& r : e.rows) {
    nlohmann::json row;
    row["arch"] = filter::arch_name(r.arch);
    row["rest"] = r.rest;
    row["syscalls"] = r.names;
    row["numbers"] = r.nrs;
    for (Column c : kColumns)
      row["verdicts"][json_key(c)] = filter::action_name(r.rets[static_cast<size_t>(c)]);
    row["depends_on_args"] = r.depends_on_args();
    for (Column c : kColumns)
      if (const auto& cond = r.conditions[static_cast<size_t>(c)])
        row["conditions"][json_key(c)] = to_json(r.arch, r.names.front(), *cond);
    if (!r.args_unknown.empty()) row["args_not_analysed"] = r.args_unknown;
    j["rows"].push_back(std::move(row));
  }
  j["kernel_notes"] = e.kernel_notes;
  return j;
}

std::string explain_text(const filter::Program& prog, const Points& points) {
  return to_text(explain(prog, points));
}

nlohmann::json explain_json(const filter::Program& prog, const Points& points) {
  return to_json(explain(prog, points));
}

}  // namespace stubfuzz::explain
