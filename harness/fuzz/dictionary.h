// The fuzzers' dictionary for the filter under test: each constant a
// conditional jump compares a syscall number or an argument half against,
// with the neighbours that take its other side, in the program's binary
// form (the u16 number; an argument's kind, width and value; the bare 4
// value bytes for overwriting a half in place) and as text-form tokens.
// Written at campaign start and given to both engines.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/result.h"
#include "filter/program.h"

namespace stubfuzz::fuzz {

struct DictEntry {
  std::string name;  // says where it came from: "pc7_args1_lo"
  std::string bytes;
  bool operator==(const DictEntry&) const = default;
};

// No two entries hold the same bytes.
std::vector<DictEntry> filter_dictionary(const filter::Program& prog);

// The format both libFuzzer and AFL++ read: name="\xNN...", one a line.
std::string to_dict_text(const std::vector<DictEntry>& entries);

// `base` (a dictionary file of profile-independent tokens; may be empty),
// then the filter's entries, written to `path`.
Result<std::string> write_dictionary(const std::string& path, const std::string& base,
                                     const filter::Program& prog);

}  // namespace stubfuzz::fuzz
