// `stubfuzz explain`: a filter as a person reads it. The symbolic
// disassembly, and a verdict matrix: for every (arch, syscall) libseccomp
// knows, what the filter returns when the syscall instruction sits on the
// stub page, outside it, in the last bytes before it, or on the page's
// upper-32-bit alias. Syscalls that get the same verdicts fold into one row;
// a syscall whose verdict depends on its arguments gets a row of its own
// with the conditions (explain/conditions.h).
#pragma once

#include <array>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "explain/conditions.h"
#include "filter/program.h"
#include "filter/syscall_names.h"

namespace stubfuzz::explain {

enum class Column : uint8_t { kStubPage, kOutside, kBeforePage, kAlias };
inline constexpr std::array<Column, 4> kColumns{Column::kStubPage, Column::kOutside,
                                                Column::kBeforePage, Column::kAlias};
const char* to_string(Column c);  // "stub page", ...
const char* json_key(Column c);   // "stub_page", ...

// The instruction pointer (address after the syscall instruction) each
// column stands for.
struct Points {
  uint64_t stub_start = 0x7e0010000000;
  uint64_t outside_ip = 0x401002;  // ordinary .text, far from the page
  uint64_t alias_offset = 0x10;    // where on the alias page

  uint64_t ip(Column c, filter::Arch a) const;
};

struct Row {
  filter::Arch arch;
  std::vector<int> nrs;
  std::vector<std::string> names;
  bool rest = false;               // "all other <arch> syscalls"
  std::array<uint32_t, 4> rets{};  // filter return per column (the "otherwise")
  // Per column, when the verdict there depends on the arguments.
  std::array<std::optional<Conditions>, 4> conditions;
  // Why the arguments' effect was not worked out; "" when it was.
  std::string args_unknown;

  bool depends_on_args() const;
};

struct Explanation {
  Points points;
  size_t instructions = 0;
  std::string check_error;  // why the kernel would refuse it; "" if accepted
  std::string disassembly;
  std::vector<Row> rows;
  // Where the running kernel overrides the matrix (kernel/facts.h): an ABI
  // that never reaches seccomp, calls seccomp never sees.
  std::vector<std::string> kernel_notes;
};

Explanation explain(const filter::Program& prog, const Points& points = {});

std::string explain_text(const filter::Program& prog, const Points& points = {});
nlohmann::json explain_json(const filter::Program& prog, const Points& points = {});
std::string to_text(const Explanation& e);
nlohmann::json to_json(const Explanation& e);

}  // namespace stubfuzz::explain
