// The filter's comparisons in the fuzz input's own bytes. The model says
// which word of seccomp_data a conditional jump tested (filter::Origin);
// this finds the bytes of the binary form that decide that word (the
// record's u16 number, an argument's kind, width and value) and says what
// they would have to be for the jump's other side. Engines that replace
// compared operands in their input (libFuzzer's table of recent compares,
// AFL++'s cmplog) then reach the value in one step; fuzzers/feedback.h
// hands these to them.
#pragma once

#include <linux/seccomp.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <vector>

#include "filter/evaluator.h"
#include "fuzz/program.h"

namespace stubfuzz::fuzz {

// A few bytes held in place, not on the heap: the feedback makes these for
// every comparison of every record, and an argument's encoding, the
// longest, is ten bytes.
class CompareBytes {
 public:
  static constexpr size_t kCapacity = 16;
  using value_type = uint8_t;
  using iterator = const uint8_t*;
  using const_iterator = const uint8_t*;

  CompareBytes() = default;
  // At most kCapacity bytes; the rest are dropped.
  CompareBytes(std::span<const uint8_t> bytes) { append(bytes); }  // NOLINT: bytes read as bytes
  CompareBytes(std::initializer_list<uint8_t> bytes) : CompareBytes(std::span(bytes)) {}

  void append(std::span<const uint8_t> bytes) {
    const size_t n = std::min(bytes.size(), kCapacity - size_);
    std::copy_n(bytes.begin(), n, bytes_.begin() + size_);
    size_ += static_cast<uint8_t>(n);
  }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  const uint8_t* data() const { return bytes_.data(); }
  const uint8_t* begin() const { return bytes_.data(); }
  const uint8_t* end() const { return bytes_.data() + size_; }
  uint8_t operator[](size_t i) const { return bytes_[i]; }
  bool operator==(const CompareBytes& o) const { return std::ranges::equal(*this, o); }

 private:
  std::array<uint8_t, kCapacity> bytes_{};
  uint8_t size_ = 0;
};

// `seen` is what the input holds at `offset`, `wanted` the same number of
// bytes that would take the other side.
struct InputCompare {
  size_t offset = 0;
  CompareBytes seen, wanted;
};

// For one comparison the model made on `record` (decoded from `input`, at
// `span`), with `data` what the filter saw. Comparisons on anything but nr,
// arch or an argument, or whose bytes pass the input's end, give none.
std::vector<InputCompare> input_compares(std::span<const uint8_t> input, const RecordSpan& span,
                                         const Record& record, const seccomp_data& data,
                                         const filter::Comparison& c);

}  // namespace stubfuzz::fuzz
