#include "fuzz/replay.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>

namespace stubfuzz::fuzz {

namespace fs = std::filesystem;

Result<Program> load_program(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error::from_errno(path + ": cannot read");
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return Error::from_errno(path + ": cannot read");
  if (bytes.empty()) return Error{path + ": empty file", EINVAL};
  const std::span<const uint8_t> raw(reinterpret_cast<const uint8_t*>(bytes.data()),
                                     bytes.size());
  // Text programs are printable; the binary form almost never is. A printable
  // file that does not parse is reported, not decoded as binary.
  if (looks_like_text(raw)) {
    auto p = parse_text(bytes);
    if (!p) return Error{path + ": " + p.error().message, EINVAL};
    if (p->records.empty()) return Error{path + ": no records", EINVAL};
    return p;
  }
  Program p = decode(raw);
  if (p.records.empty()) return Error{path + ": no records", EINVAL};
  return p;
}

Result<std::vector<std::string>> expand_inputs(const std::vector<std::string>& args) {
  std::vector<std::string> files;
  for (const auto& a : args) {
    std::error_code ec;
    if (fs::is_directory(a, ec)) {
      std::vector<std::string> in_dir;
      for (const auto& e : fs::directory_iterator(a, ec))
        if (e.is_regular_file()) in_dir.push_back(e.path().string());
      if (ec) return Error{a + ": cannot list: " + ec.message(), ec.value()};
      std::sort(in_dir.begin(), in_dir.end());
      files.insert(files.end(), in_dir.begin(), in_dir.end());
    } else if (fs::exists(a, ec)) {
      files.push_back(a);
    } else {
      return Error{a + ": no such file or directory", ENOENT};
    }
  }
  return files;
}

Result<ReplayResult> replay(Executor& executor, const Profile& profile, const Program& program) {
  auto ex = executor.run(program);
  if (!ex) return ex.error();
  ReplayResult r{program, *ex, {}};
  r.judgement = judge(profile, executor.config(), program, r.execution);
  return r;
}

void print_replay(const std::string& path, const ReplayResult& r, std::ostream& out) {
  out << path << "\n" << describe(r.program, r.execution, r.judgement);
  if (const Breach* b = r.judgement.first_violation()) {
    out << "  REPRODUCES: claim " << b->claim << " broken by record " << b->record << ": "
        << b->detail << "\n";
    return;
  }
  bool known = false;
  for (const auto& b : r.judgement.breaches)
    if (!b.finding.empty()) {
      out << "  known finding " << b.finding << " (" << b.claim << "), record " << b.record
          << "\n";
      known = true;
    }
  if (!known) out << "  every claim holds\n";
}

}  // namespace stubfuzz::fuzz
