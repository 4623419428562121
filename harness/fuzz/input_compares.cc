#include "fuzz/input_compares.h"

#include <linux/audit.h>

#include <algorithm>
#include <array>
#include <cstring>

#include "filter/field_compares.h"

namespace stubfuzz::fuzz {

namespace {

CompareBytes little_endian(uint64_t v, size_t n) {
  std::array<uint8_t, 8> b;
  for (size_t i = 0; i < n && i < b.size(); i++) b[i] = static_cast<uint8_t>(v >> (8 * i));
  return std::span<const uint8_t>(b.data(), std::min(n, b.size()));
}

uint32_t field_value(const seccomp_data& d, int16_t field) {
  uint32_t v;
  std::memcpy(&v, reinterpret_cast<const char*>(&d) + field, sizeof(v));
  return v;
}

// The bytes the input holds at [offset, offset + wanted.size()), if all there.
void add(std::vector<InputCompare>& out, std::span<const uint8_t> input, size_t offset,
         const CompareBytes& wanted) {
  if (offset == RecordSpan::npos || offset > input.size() || wanted.size() > input.size() - offset)
    return;
  const CompareBytes seen = input.subspan(offset, wanted.size());
  if (!(seen == wanted)) out.push_back({offset, seen, wanted});
}

// An argument that should be `value`: as a literal in the width it has now
// when that holds the value, else in the narrowest that does; and, when the
// input already holds a 4- or 8-byte literal, its value bytes alone, which the
// engines' integer comparisons find anywhere in the input.
void want_arg(std::vector<InputCompare>& out, std::span<const uint8_t> input, size_t at,
              const Arg& now, uint64_t value) {
  std::array<uint8_t, kMaxArgBytes> narrowest;
  CompareBytes enc =
      std::span<const uint8_t>(narrowest.data(), encode_arg({ArgKind::kLiteral, value}, narrowest));
  if (now.kind == ArgKind::kLiteral && at + 1 < input.size()) {
    const size_t width = size_t{1} << (input[at + 1] & 3);
    const bool fits = width == 8 || (value >> (8 * width)) == 0;
    if (fits) {
      enc = {static_cast<uint8_t>(ArgKind::kLiteral), static_cast<uint8_t>(input[at + 1] & 3)};
      const CompareBytes bytes = little_endian(value, width);
      enc.append(bytes);
      if (width >= 4) add(out, input, at + 2, bytes);
    }
  }
  add(out, input, at, enc);
}

}  // namespace

std::vector<InputCompare> input_compares(std::span<const uint8_t> input, const RecordSpan& span,
                                         const Record& record, const seccomp_data& data,
                                         const filter::Comparison& c) {
  std::vector<InputCompare> out;
  if (!c.origin.known() || record.spin) return out;
  const int16_t field = c.origin.field;
  const uint32_t now = field_value(data, field);
  for (uint32_t want :
       filter::values_for_other_side(c.op, c.operand, c.origin.mask, now, c.taken)) {
    if (field == filter::kFieldNr) {
      if ((want & ~kX32Bit) <= kMaxNr) add(out, input, span.nr, little_endian(encode_nr(want), 2));
    } else if (field == filter::kFieldArch) {
      // The arch is the head byte's i386 bit; the byte after it comes along,
      // as engines replace two bytes or more.
      const bool i386 = want == AUDIT_ARCH_I386;
      if ((i386 || want == AUDIT_ARCH_X86_64) && i386 != record.i386 &&
          span.head + 1 < input.size())
        add(out, input, span.head,
            {static_cast<uint8_t>(input[span.head] ^ 8), input[span.head + 1]});
    } else if (field >= filter::arg_field(0, false) && field < filter::arg_field(6, false)) {
      const int i = (field - filter::arg_field(0, false)) / 8;
      const bool high = (field - filter::arg_field(0, false)) % 8 == 4;
      // int $0x80 passes 32 bits: the upper half of the filter's word is 0.
      if (high && record.i386) continue;
      const uint64_t value = data.args[i];
      const uint64_t wanted = high ? (value & 0xffffffffu) | (uint64_t{want} << 32)
                                   : (value & ~uint64_t{0xffffffffu}) | want;
      want_arg(out, input, span.args[i], record.args[i], wanted);
    }
  }
  return out;
}

}  // namespace stubfuzz::fuzz
