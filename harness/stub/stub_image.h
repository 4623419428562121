// The stub executable, embedded in the harness at build time and exec'd from
// a sealed memfd, as UML does with its stub_exe.
#pragma once

#include <cstdint>
#include <span>

#include "base/result.h"

namespace stubfuzz {

std::span<const uint8_t> stub_image();

// A process-wide sealed memfd holding stub_image(); created on first use.
Result<int> stub_image_fd();

}  // namespace stubfuzz
