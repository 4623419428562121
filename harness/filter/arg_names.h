// Names for argument values a filter compares against, where the kernel
// headers have them: ioctl request codes (the listener's own first), mmap
// and mprotect protections and flags, clone flags, fcntl commands, socket
// families, prctl options, seccomp operations, and the stub's two fds.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace stubfuzz::filter {

// The name of `value` as argument `arg` of `syscall`
// ("SECCOMP_IOCTL_NOTIF_SEND", "PROT_READ|PROT_WRITE"), or "" if unknown.
// For flag arguments a value is named only when every bit has a name.
std::string arg_value_name(std::string_view syscall, int arg, uint64_t value);

}  // namespace stubfuzz::filter
