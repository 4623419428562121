// The text form of a seccomp program: an assembler and a disassembler that
// round-trip exactly (docs/filter-formats.md has the grammar).
//
//   check_page:                 # labels end in ':'; '#' or ';' comment
//     ld [ip_hi]                # seccomp_data fields by name
//     jeq #STUB_HI, +0, trap    # jt, jf: labels or +N; jf may be omitted
//     ld [nr]
//     jeq #futex, allow         # x86_64 syscall; i386.execve for i386
//   trap: ret #TRAP
//   allow: ret #ALLOW
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"
#include "filter/program.h"

namespace stubfuzz::filter {

struct AsmOptions {
  std::string file = "<text>";  // for "FILE:LINE: message" errors
  // The value of STUB_LO/STUB_HI/STUB_PAGE; without it they are errors.
  std::optional<uint64_t> stub_start;
};

// Errors are one line: "FILE:LINE: message".
Result<Program> assemble(std::string_view text, const AsmOptions& options = {});

struct DisasmOptions {
  std::optional<uint64_t> stub_start;  // print STUB_LO/STUB_HI for it
  bool index_comments = true;          // "; 7" after each instruction
};

// Total: instructions the assembler has no mnemonic for print as `.raw`,
// so assemble(disassemble(p)) == p for every program.
std::string disassemble(const Program& prog, const DisasmOptions& options = {});

}  // namespace stubfuzz::filter
