#include "fuzz/replay.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "base/fd.h"

namespace stubfuzz::fuzz {

namespace fs = std::filesystem;

namespace {

// No program comes near this (the fuzzers' inputs are at most a few KiB); a
// larger file is the wrong file, and /dev/zero must not run forever.
constexpr size_t kMaxProgramBytes = 1 << 20;

// Plain reads: a FIFO without a writer reads as empty instead of blocking in
// open(), and a read error is an error, not an exception.
Result<std::string> read_program_file(const std::string& path) {
  const Fd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (!fd.valid()) return Error::from_errno(path + ": cannot open");
  fcntl(fd.get(), F_SETFL, 0);
  std::string bytes;
  char buf[65536];
  for (;;) {
    const ssize_t n = read(fd.get(), buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error::from_errno(path + ": cannot read");
    if (n == 0) break;
    bytes.append(buf, static_cast<size_t>(n));
    if (bytes.size() > kMaxProgramBytes)
      return Error{path + ": larger than " + std::to_string(kMaxProgramBytes) + " bytes", EFBIG};
  }
  return bytes;
}

// libFuzzer's crash-/timeout-/leak-/oom-/slow-unit- files and corpus
// entries (a SHA-1 name), AFL++'s id:* files.
bool engine_artifact(const std::string& path) {
  const std::string name = fs::path(path).filename().string();
  for (const char* prefix : {"crash-", "timeout-", "leak-", "oom-", "slow-unit-", "id:"})
    if (name.rfind(prefix, 0) == 0) return true;
  return name.size() == 40 && std::all_of(name.begin(), name.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

Result<Program> decode_file(const std::string& path, std::span<const uint8_t> raw,
                            bool text_first = false) {
  Program p = text_first ? program_from_bytes(raw) : decode(raw);
  if (p.records.empty()) return Error{path + ": no records", EINVAL};
  return p;
}

}  // namespace

Result<Program> load_program(const std::string& path) {
  auto read = read_program_file(path);
  if (!read) return read.error();
  const std::string& bytes = *read;
  if (bytes.empty()) return Error{path + ": empty file", EINVAL};
  const std::span<const uint8_t> raw(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  // An engine's file is read as the fuzz target read it: text if it
  // parses, else the binary form (mutated text seeds often stay printable).
  if (engine_artifact(path)) return decode_file(path, raw, /*text_first=*/true);
  // Text programs are printable; the binary form almost never is. A printable
  // file that does not parse is reported, not decoded as binary.
  if (looks_like_text(raw)) {
    auto p = parse_text(bytes);
    // Non-ASCII bytes that do not parse are more likely a binary input.
    const bool ascii = std::all_of(raw.begin(), raw.end(), [](uint8_t c) { return c < 0x80; });
    if (!p && !ascii) return decode_file(path, raw);
    if (!p) return Error{path + ": " + p.error().message, EINVAL};
    if (p->records.empty()) return Error{path + ": no records", EINVAL};
    return p;
  }
  return decode_file(path, raw);
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

std::string profile_named_in(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  for (int n = 0; n < 64 && std::getline(in, line); n++) {
    constexpr std::string_view kTag = "# profile:";
    if (line.rfind(kTag, 0) != 0) continue;
    std::string name = line.substr(kTag.size());
    name.erase(0, name.find_first_not_of(" \t"));
    name.erase(name.find_last_not_of(" \t\r") + 1);
    return name;
  }
  return "";
}

Result<ReplayResult> replay(Executor& executor, const Profile& profile, const Program& program,
                            bool every_claim) {
  auto ex = executor.run(program);
  if (!ex) return ex.error();
  ReplayResult r{program, *ex, {}};
  r.judgement = judge(profile, executor.config(), program, r.execution, every_claim);
  return r;
}

void print_replay(const std::string& path, const ReplayResult& r, std::ostream& out) {
  out << path << "\n" << describe(r.program, r.execution, r.judgement);
  if (const Breach* b = r.judgement.first_violation()) {
    out << "  REPRODUCES: claim " << b->claim_name() << " (" << b->class_name()
        << ") broken by record " << b->record << ": " << b->detail << "\n";
    return;
  }
  bool known = false;
  for (const auto& b : r.judgement.breaches)
    if (b.known) {
      out << "  known finding " << b.class_name() << " (" << b.claim_name() << "), record "
          << b.record << "\n";
      known = true;
    }
  if (!known) out << "  every claim holds\n";
}

}  // namespace stubfuzz::fuzz
