// What /proc says of another process: the harness reads it to tell a stub
// that blocks or spins from one that waits for a CPU, and to name its fds.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

namespace stubfuzz::kernel {

// All threads of one process at one instant.
struct TaskSample {
  uint64_t cpu_ns = 0;     // CPU time used (schedstat), summed
  bool all_asleep = true;  // every thread in state S: waiting in a syscall
  bool dying = false;      // exiting, dumping core, or a fatal signal pending
};
TaskSample sample_tasks(pid_t pid);

// What fd `fd` of `pid` is, as /proc/<pid>/fd names it ("" if closed).
std::string fd_target(pid_t pid, int fd);

}  // namespace stubfuzz::kernel
