// The stub binary is freestanding: static, no dynamic section, no libc, and
// its stub page fits one page with nothing but PC-relative references.
#include "stub/stub_image.h"

#include <elf.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

namespace stubfuzz {
namespace {

TEST(StubImage, IsAStaticX86_64ExecutableWithoutDynamicSectionOrInterpreter) {
  auto image = stub_image();
  ASSERT_GE(image.size(), sizeof(Elf64_Ehdr));
  Elf64_Ehdr eh;
  std::memcpy(&eh, image.data(), sizeof(eh));
  ASSERT_EQ(0, std::memcmp(eh.e_ident, ELFMAG, SELFMAG));
  EXPECT_EQ(eh.e_machine, EM_X86_64);
  EXPECT_EQ(eh.e_type, ET_EXEC) << "the stub must be a static, non-PIE executable";
  ASSERT_LE(eh.e_phoff + eh.e_phnum * sizeof(Elf64_Phdr), image.size());
  for (int i = 0; i < eh.e_phnum; i++) {
    Elf64_Phdr ph;
    std::memcpy(&ph, image.data() + eh.e_phoff + i * sizeof(ph), sizeof(ph));
    EXPECT_NE(ph.p_type, PT_DYNAMIC) << "program header " << i;
    EXPECT_NE(ph.p_type, PT_INTERP) << "program header " << i;
    EXPECT_NE(ph.p_type, PT_TLS) << "program header " << i;
  }
}

TEST(StubImage, ContainsNoLibcAndNoInstrumentation) {
  auto image = stub_image();
  const std::string bytes(reinterpret_cast<const char*>(image.data()), image.size());
  for (const char* marker : {"GLIBC", "libc.so", "__asan", "__ubsan", "__sanitizer", "__afl",
                             "__llvm_profile", "__sancov"})
    EXPECT_EQ(bytes.find(marker), std::string::npos) << marker;
}

TEST(StubImage, EmbeddedImageIsTheBuiltStub) {
  std::ifstream in(STUBFUZZ_STUB_BINARY, std::ios::binary);
  ASSERT_TRUE(in) << STUBFUZZ_STUB_BINARY;
  const std::string file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto image = stub_image();
  ASSERT_EQ(file.size(), image.size());
  EXPECT_EQ(0, std::memcmp(file.data(), image.data(), image.size()));
}

// The page is copied to stub_start, so its code may refer only to itself.
TEST(StubImage, StubPageCodeUsesOnlyPcRelativeReferencesToItself) {
  const std::string obj =
      std::string(STUBFUZZ_STUB_BINARY).substr(0, std::string(STUBFUZZ_STUB_BINARY).rfind('/')) +
      "/stub_page.o";
  FILE* p = popen(("readelf -rsW " + obj).c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[512];
  while (fgets(buf, sizeof(buf), p)) out += buf;
  ASSERT_EQ(pclose(p), 0) << "readelf failed on " << obj;
  int relocations = 0;
  size_t pos = 0;
  while ((pos = out.find("R_X86_64_", pos)) != std::string::npos) {
    const size_t eol = out.find('\n', pos);
    const std::string line = out.substr(pos, eol - pos);
    relocations++;
    EXPECT_TRUE(line.rfind("R_X86_64_PC32", 0) == 0 || line.rfind("R_X86_64_PLT32", 0) == 0)
        << line;
    EXPECT_TRUE(line.find("stub_") != std::string::npos) << "reference outside the page: " << line;
    pos = eol;
  }
  EXPECT_GT(relocations, 0);
  EXPECT_EQ(out.find("UND memcpy"), std::string::npos);
  EXPECT_EQ(out.find("UND memset"), std::string::npos);
}

}  // namespace
}  // namespace stubfuzz
