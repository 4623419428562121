// The child of the UML-style spawn: clone(CLONE_VM|CLONE_VFORK) into the
// sandbox, the starting fds (stub/child_fds.h), execveat of a sealed image.
// Shared by stubfuzz's own stub and UML's (stub/uml_stub.h).
#pragma once

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "stub/child_fds.h"
#include "stub/sandbox.h"

namespace stubfuzz {

struct ChildArgs {
  int image_fd;
  int sock_fd;  // becomes fd 0
  int data_fd;  // becomes fd 1
  const SandboxChild* sandbox;
  const char* name;  // argv[0]
  int failed_errno;
  // > 0: the clone shared the monitor's fd table (CLONE_FILES); the child
  // first makes its own of the fds below this (stub/spawn_slots.h).
  int keep_below = 0;
};

// Runs in the clone(CLONE_VM|CLONE_VFORK) child on a borrowed stack while the
// monitor is suspended: raw syscalls only, no allocation, no sanitizer.
__attribute__((no_sanitize("address", "undefined"))) inline int spawn_child(void* p) {
  auto* a = static_cast<ChildArgs*>(p);
  const char* const argv[] = {a->name, nullptr};
  static const char* const envp[] = {nullptr};
  if (a->keep_below > 0 && syscall(SYS_close_range, a->keep_below, ~0U, CLOSE_RANGE_UNSHARE) < 0) {
    a->failed_errno = errno;
    syscall(SYS_exit, 127);
  }
  if (int e = stub_child_fds(a->sock_fd, a->data_fd)) {
    a->failed_errno = e;
    syscall(SYS_exit, 127);
  }
  if (int e = sandbox_enter(*a->sandbox)) {
    a->failed_errno = e;
    syscall(SYS_exit, 127);
  }
  syscall(SYS_execveat, a->image_fd, "", argv, envp, AT_EMPTY_PATH);
  a->failed_errno = errno;
  syscall(SYS_exit, 127);
  return 127;
}

}  // namespace stubfuzz
