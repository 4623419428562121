// Building syscall records for a stub batch.
#pragma once

#include <cstdint>
#include <initializer_list>

#include "stub_abi.h"

namespace stubfuzz {

enum class Origin : uint8_t {
  kStub = STUB_ORIGIN_STUB,
  kOutside = STUB_ORIGIN_OUTSIDE,
  kAddress = STUB_ORIGIN_ADDRESS,
};
enum class Abi : uint8_t { kX86_64 = STUB_ABI_X86_64, kI386 = STUB_ABI_I386 };

inline stub_record make_record(Origin origin, Abi abi, uint32_t nr,
                               std::initializer_list<uint64_t> args, uint64_t addr = 0) {
  stub_record r{};
  r.origin = static_cast<uint8_t>(origin);
  r.abi = static_cast<uint8_t>(abi);
  r.nr = nr;
  r.addr = addr;
  int i = 0;
  for (uint64_t a : args)
    if (i < 6) r.args[i++] = a;
  return r;
}

inline stub_record from_stub(uint32_t nr, std::initializer_list<uint64_t> args = {}) {
  return make_record(Origin::kStub, Abi::kX86_64, nr, args);
}
inline stub_record from_outside(uint32_t nr, std::initializer_list<uint64_t> args = {}) {
  return make_record(Origin::kOutside, Abi::kX86_64, nr, args);
}
// A syscall instruction written at `addr` (an arena, or ending at the stub page).
inline stub_record at_address(uint64_t addr, uint32_t nr,
                              std::initializer_list<uint64_t> args = {}) {
  return make_record(Origin::kAddress, Abi::kX86_64, nr, args, addr);
}
inline stub_record i386_from_stub(uint32_t nr, std::initializer_list<uint64_t> args = {}) {
  return make_record(Origin::kStub, Abi::kI386, nr, args);
}

}  // namespace stubfuzz
