// The fds a stub begins with (stub_abi.h): its end of the control socket at
// STUB_SOCKET_FD, the data memfd at STUB_DATA_FD, everything else
// close-on-exec, and no core dumps. Shared by the harness's spawn child and
// the benchmarks' raw floor, so both start the same stub.
#pragma once

#include <fcntl.h>
#include <linux/close_range.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "stub_abi.h"

namespace stubfuzz {

// For a clone(CLONE_VM|CLONE_VFORK) child on a borrowed stack: raw syscalls
// only, no allocation, no sanitizer. Returns 0 or the errno of the failed
// step.
__attribute__((no_sanitize("address", "undefined"))) inline int stub_child_fds(int sock_fd,
                                                                               int data_fd) {
  const rlimit no_core{0, 0};
  // Above both targets first, so neither dup3 overwrites the other's source.
  const long sock = syscall(SYS_fcntl, sock_fd, F_DUPFD_CLOEXEC, 3);
  const long data = syscall(SYS_fcntl, data_fd, F_DUPFD_CLOEXEC, 3);
  if (sock < 0 || data < 0 || syscall(SYS_dup3, sock, STUB_SOCKET_FD, 0) < 0 ||
      syscall(SYS_dup3, data, STUB_DATA_FD, 0) < 0 ||
      syscall(SYS_close_range, 2, ~0U, CLOSE_RANGE_CLOEXEC) < 0 ||
      syscall(SYS_prlimit64, 0, RLIMIT_CORE, &no_core, nullptr) < 0)
    return errno;
  return 0;
}

}  // namespace stubfuzz
