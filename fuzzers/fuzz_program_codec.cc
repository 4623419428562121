// In-process: any bytes decode into a program; binary -> text -> binary is
// stable; the text form parses back to the same program.
#include <cstdio>

#include "fuzz/program.h"

using namespace stubfuzz::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const Program p = decode({data, size});
  const auto bytes = encode(p);
  if (!(decode(bytes) == p)) __builtin_trap();
  const std::string text = to_text(p);
  auto parsed = parse_text(text);
  if (!parsed) {
    std::fprintf(stderr, "printed text does not parse: %s\n%s", parsed.error().message.c_str(),
                 text.c_str());
    __builtin_trap();
  }
  if (!(encode(*parsed) == bytes)) {
    std::fprintf(stderr, "text round trip changed the program:\n%s", text.c_str());
    __builtin_trap();
  }
  // And the text parser itself on raw input: it must not crash.
  (void)parse_text(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
