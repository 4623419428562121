// The child side of a plain spawn, shared by raw_stub.cc and the zygote.
#pragma once

namespace stubfuzz::bench {

struct ChildArgs {
  int image_fd;
  int sock_fd;
  int data_fd;
  int failed_errno;  // set by the child when CLONE_VM shares it
  bool by_path;      // execve("/proc/self/fd/N") instead of execveat
};

// Puts the socket at fd 0 and the data memfd at fd 1, marks the rest
// close-on-exec, drops core dumps and execs the image, as the harness's
// spawn_child. Raw syscalls only: it runs on a borrowed stack under CLONE_VM.
int exec_stub_child(void* args);

}  // namespace stubfuzz::bench
