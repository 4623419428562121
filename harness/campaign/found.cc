#include "campaign/found.h"

#include <fstream>
#include <string_view>

namespace stubfuzz::campaign {

namespace {

// "# seconds: 12.5" on the first line of a found program.
constexpr std::string_view kSecondsKey = "# seconds: ";

}  // namespace

std::string found_file(const std::string& dir, FindingId cls) {
  return dir + "/" + std::string(to_string(cls)) + ".txt";
}

std::string found_header(double seconds) {
  return std::string(kSecondsKey) + std::to_string(seconds) + "\n";
}

std::optional<double> found_seconds(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  if (!std::getline(in, line) || !line.starts_with(kSecondsKey)) return std::nullopt;
  try {
    return std::stod(line.substr(kSecondsKey.size()));
  } catch (...) {
    return std::nullopt;
  }
}

}  // namespace stubfuzz::campaign
