// The text parser on arbitrary input: never crashes; errors are one line
// "FILE:LINE: message"; whatever parses prints and parses back to the same
// program, and the printed text is a fixed point.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "filter/asm.h"
#include "filter/evaluator.h"
#include "filter/validate.h"

using namespace stubfuzz::filter;

namespace {
void require(bool ok) {
  if (!ok) __builtin_trap();
}
constexpr uint64_t kStub = 0x7e0010000000;
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(bytes), size);
  auto prog = assemble(text, {.file = "in.asm", .stub_start = kStub});
  if (!prog) {
    const std::string& m = prog.error().message;
    require(m.starts_with("in.asm:") && m.find('\n') == std::string::npos);
    return 0;
  }
  const std::string printed = disassemble(*prog, {.stub_start = kStub});
  auto again = assemble(printed, {.file = "printed.asm", .stub_start = kStub});
  require(again.ok() && same_program(*again, *prog));
  require(disassemble(*again, {.stub_start = kStub}) == printed);
  if (!check_program(*prog)) require(evaluate(*prog, {}).ok);
  return 0;
}
