// `stubfuzz doctor`: what this kernel supports, one line each, and whether
// the harness can run here at all.
#pragma once

#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <vector>

#include "kernel/facts.h"

namespace stubfuzz {

struct DoctorLine {
  std::string feature;
  bool available = false;
  bool required = false;  // the harness cannot run without it
  std::string detail;
};

std::vector<DoctorLine> run_doctor();
// Prints the lines; returns false if a required feature is missing.
bool print_doctor(const std::vector<DoctorLine>& lines, std::ostream& out);
// The same as one JSON object with the kernel facts (docs/json.md).
bool print_doctor_json(const std::vector<DoctorLine>& lines, std::ostream& out);

// {"release": ..., "facts": {...}}: the kernel a verdict was judged under.
nlohmann::ordered_json kernel_json(const kernel::Facts& facts);

}  // namespace stubfuzz
