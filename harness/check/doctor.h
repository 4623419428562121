// `stubfuzz doctor`: what this kernel supports, one line each, and whether
// the harness can run here at all.
#pragma once

#include <ostream>
#include <string>
#include <vector>

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

}  // namespace stubfuzz
