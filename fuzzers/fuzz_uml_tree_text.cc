// The text a user's kernel tree and its tools hand stubfuzz for --uml-tree
// (uml/tree.h): kbuild's .stub_exe.o.cmd, the layout probe's assembler
// output and objdump's disassembly of the stub page. Each must give a value
// or one error, never a crash. The first byte picks the parser.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "uml/tree.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 3) {
    case 0:
      (void)stubfuzz::uml::probe_command(text, "/tmp/probe.c", "/tmp/probe.s");
      break;
    case 1:
      (void)stubfuzz::uml::parse_probe_output(text);
      break;
    default: {
      // The disassembly, then a NUL, then the page's bytes.
      const auto nul = text.find('\0');
      const std::string listing = text.substr(0, nul);
      std::vector<uint8_t> page;
      if (nul != std::string::npos) page.assign(text.begin() + nul + 1, text.end());
      if (page.size() > 4096) page.resize(4096);
      (void)stubfuzz::uml::parse_sites(listing, 0x401000, page);
    }
  }
  return 0;
}
