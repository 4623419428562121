// Filter files: a seccomp program as the raw array of struct sock_filter
// (8 bytes each, host order: what libseccomp's seccomp_export_bpf writes)
// or as text (asm.h). Every error is one line naming the file (and line).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"
#include "filter/program.h"

namespace stubfuzz::filter {

enum class FilterFormat : uint8_t { kBinary, kText };

struct FilterFileOptions {
  std::optional<FilterFormat> format;  // unset: by extension, then content
  std::optional<uint64_t> stub_start;  // for STUB_* in text
  bool check = true;                   // refuse what the kernel would refuse
};

// ".bpf" is binary, ".asm" text; otherwise a file holding a NUL byte is
// binary (an opcode or jump offset is always 0 somewhere) and text if not.
FilterFormat detect_format(std::string_view name, std::string_view bytes);

// `name` is what errors call the file.
Result<Program> parse_filter(std::string_view bytes, std::string_view name,
                             const FilterFileOptions& options = {});
Result<Program> load_filter_file(const std::string& path, const FilterFileOptions& options = {});

std::string to_binary(const Program& prog);
Status write_filter_file(const std::string& path, const Program& prog, FilterFormat format,
                         std::optional<uint64_t> stub_start = std::nullopt);

}  // namespace stubfuzz::filter
