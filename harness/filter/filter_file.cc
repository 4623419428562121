#include "filter/filter_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstring>

#include "base/fd.h"
#include "filter/asm.h"
#include "filter/asm_syntax.h"
#include "filter/validate.h"

namespace stubfuzz::filter {

namespace {

// Refuse to read more than a maximal program could need as text.
constexpr size_t kMaxFileBytes = 4 << 20;

Error file_error(std::string_view name, const std::string& msg, int err = EINVAL) {
  return Error{std::string(name) + ": " + msg, err};
}

// "FILE: open: ENOENT", from errno; base/result.cc is not in this library.
Error os_error(std::string_view name, const char* call, int e = errno) {
  const char* en = strerrorname_np(e);
  return file_error(name, std::string(call) + ": " + (en ? en : std::to_string(e)), e);
}

Result<Program> parse_binary(std::string_view bytes, std::string_view name) {
  const size_t insn = sizeof(sock_filter);
  if (bytes.size() % insn != 0)
    return file_error(name, std::to_string(bytes.size()) + " bytes is not a whole number of " +
                                "8-byte instructions (last one truncated to " +
                                std::to_string(bytes.size() % insn) + " bytes)");
  const size_t n = bytes.size() / insn;
  if (n > syntax::kMaxInstructions)
    return file_error(name, "too long: " + std::to_string(n) + " instructions, at most " +
                                std::to_string(syntax::kMaxInstructions));
  Program prog(n);
  std::memcpy(prog.data(), bytes.data(), bytes.size());
  return prog;
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

}  // namespace

FilterFormat detect_format(std::string_view name, std::string_view bytes) {
  if (ends_with(name, ".bpf")) return FilterFormat::kBinary;
  if (ends_with(name, ".asm")) return FilterFormat::kText;
  return bytes.find('\0') != std::string_view::npos ? FilterFormat::kBinary : FilterFormat::kText;
}

Result<Program> parse_filter(std::string_view bytes, std::string_view name,
                             const FilterFileOptions& options) {
  if (bytes.empty()) return file_error(name, "empty file");
  const FilterFormat format = options.format.value_or(detect_format(name, bytes));
  Result<Program> prog = Error{};
  if (format == FilterFormat::kBinary) {
    prog = parse_binary(bytes, name);
  } else {
    prog = assemble(bytes, {.file = std::string(name), .stub_start = options.stub_start});
  }
  if (!prog || !options.check) return prog;
  if (auto f = check_program(*prog)) return file_error(name, f->message);
  return prog;
}

Result<Program> load_filter_file(const std::string& path, const FilterFileOptions& options) {
  // O_NONBLOCK only for open(): a FIFO without a writer then reads as empty
  // instead of hanging.
  Fd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (fd.get() < 0) return os_error(path, "open");
  fcntl(fd.get(), F_SETFL, 0);
  std::string bytes;
  char buf[65536];
  for (;;) {
    ssize_t n = read(fd.get(), buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return os_error(path, "read");
    if (n == 0) break;
    bytes.append(buf, static_cast<size_t>(n));
    if (bytes.size() > kMaxFileBytes)
      return file_error(path, "larger than " + std::to_string(kMaxFileBytes) + " bytes");
  }
  return parse_filter(bytes, path, options);
}

std::string to_binary(const Program& prog) {
  return std::string(reinterpret_cast<const char*>(prog.data()), prog.size() * sizeof(sock_filter));
}

Status write_filter_file(const std::string& path, const Program& prog, FilterFormat format,
                         std::optional<uint64_t> stub_start) {
  const std::string bytes = format == FilterFormat::kBinary
                                ? to_binary(prog)
                                : disassemble(prog, {.stub_start = stub_start});
  Fd fd(open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (fd.get() < 0) return os_error(path, "open");
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = write(fd.get(), bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return os_error(path, "write");
    done += static_cast<size_t>(n);
  }
  return {};
}

}  // namespace stubfuzz::filter
