// Mnemonics and symbols shared by the assembler and the disassembler.
#pragma once

#include <linux/filter.h>

#include <array>
#include <cstdint>
#include <string_view>

namespace stubfuzz::filter::syntax {

struct Mnemonic {
  std::string_view name;
  uint16_t op;
};

inline constexpr std::array<Mnemonic, 10> kAluOps{{
    {"add", BPF_ADD},
    {"sub", BPF_SUB},
    {"mul", BPF_MUL},
    {"div", BPF_DIV},
    {"mod", BPF_MOD},
    {"and", BPF_AND},
    {"or", BPF_OR},
    {"xor", BPF_XOR},
    {"lsh", BPF_LSH},
    {"rsh", BPF_RSH},
}};
inline constexpr std::array<Mnemonic, 4> kJumpOps{{
    {"jeq", BPF_JEQ},
    {"jgt", BPF_JGT},
    {"jge", BPF_JGE},
    {"jset", BPF_JSET},
}};

inline constexpr uint32_t kPageMask = 0xfffff000;
inline constexpr size_t kMaxInstructions = BPF_MAXINSNS;

}  // namespace stubfuzz::filter::syntax
