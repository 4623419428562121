#include "base/result.h"

#include <cstring>

namespace stubfuzz {

std::string errno_name(int e) {
  const char* name = strerrorname_np(e);
  return name ? name : "errno " + std::to_string(e);
}

Error Error::from_errno(std::string call, int e) {
  return Error{std::move(call) + ": " + errno_name(e), e};
}

}  // namespace stubfuzz
