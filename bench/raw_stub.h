// A stub spawned by the benchmarks themselves against the public ABI
// (stub_abi.h), with no harness code on the path: the floor of Stub::spawn
// and the alternative spawn strategies.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "filter/program.h"
#include "stub/stub.h"
#include "stub_abi.h"

namespace stubfuzz::bench {

enum class Strategy {
  kCloneVfork,    // clone(CLONE_VM|CLONE_VFORK) + execveat + pidfd_open: the seed's
  kClonePidfd,    // the same clone with CLONE_PIDFD
  kForkExecve,    // fork + execve("/proc/self/fd/N")
  kForkExecveat,  // fork + execveat(N, "", AT_EMPTY_PATH)
  kPosixSpawn,    // posix_spawn("/proc/self/fd/N") with dup2 file actions
  kZygote,        // a helper process forks + execveat's (see zygote.h)
};

// How the monitor finds the listener's number in the stub.
enum class Handover {
  kNone,          // no listener pulled
  kAssumeFd1,     // pidfd_getfd(pidfd, 1): the seed's "fd 1 by construction"
  kFromDataPage,  // pidfd_getfd(pidfd, data->seccomp_ret)
};

struct RawConfig {
  filter::Program filter;
  uint64_t seccomp_flags = 0;
  bool install_filter = true;
  Handover handover = Handover::kAssumeFd1;
  StubLayout layout;
  // The fuzzer's stubs: a safety net installed before the filter (by the
  // template only, for factory stubs), a second thread, and the mode.
  filter::Program safety_net;
  bool second_thread = false;
  uint32_t mode = STUB_MODE_STUB;
};

struct RawStub {
  pid_t pid = -1;
  int pidfd = -1;
  int sock = -1;
  int listener = -1;
  stub_data* data = nullptr;

  RawStub() = default;
  RawStub(RawStub&& o) noexcept { *this = static_cast<RawStub&&>(o); }
  RawStub& operator=(RawStub&& o) noexcept;
  ~RawStub() { end(); }
  // SIGKILL through the pidfd, waitid(P_PIDFD), close and unmap everything.
  void end();
};

// Spawns until the listener is in hand; `phases` (may be null) gets the same
// marks as the harness's SpawnPhases. Returns "" or what failed.
std::string spawn_raw(Strategy s, const RawConfig& c, RawStub* out, SpawnPhases* phases);

// A fresh stub forked by `factory_template` (a RawStub spawned with
// mode = STUB_MODE_TEMPLATE: the factory's CLONE_PARENT|CLONE_PIDFD fork),
// until its filter is installed and the listener in hand, as
// Stub::fork_from does against the same ABI. Returns "" or what failed.
std::string fork_raw(const RawStub& factory_template, const RawConfig& c, RawStub* out);

// One batch, as Stub::post: the records in, the command word set, the stub
// woken.
void post_raw(RawStub& st, const stub_record* records, uint32_t n);
enum class RawEnd { kCompleted, kDied, kTimedOut };
// Until the stub clears the command word, or the kernel marks it dead
// (FUTEX_OWNER_DIED), within `timeout_ms`.
RawEnd wait_raw(RawStub& st, int timeout_ms = 1000);

}  // namespace stubfuzz::bench
