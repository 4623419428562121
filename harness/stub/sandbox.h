// The sandbox every stub runs in unless told otherwise: its own pid
// namespace, and user, mount, network, IPC and UTS namespaces shared by the
// stubs of this process; an unprivileged uid inside (host `nobody` when the
// monitor is root); an empty root; resource limits. A hijacked stub under a
// filter that lets a call through can then reach only the sandbox.
//
// The shared namespaces are made once, by a short-lived helper process whose
// namespace fds outlive it: a fresh network namespace per stub would cost
// milliseconds at spawn and more at teardown.
#pragma once

#include <sys/resource.h>
#include <sys/types.h>

#include <array>
#include <string>

#include "base/result.h"

namespace stubfuzz {

struct Sandbox {
  bool enabled = true;
  // Stubs from a pool share one pid namespace, which the pool's thread
  // joins: a pid namespace of its own per stub costs milliseconds at spawn
  // and teardown. Off: each stub is pid 1 of its own.
  bool shared_pid_ns = false;
};

// The uid and gid a sandboxed stub has inside its user namespace; the
// namespace maps them to host `nobody` (root monitor) or the monitor's own.
inline constexpr uid_t kSandboxUid = 1000;
inline constexpr gid_t kSandboxGid = 1000;

// What the spawn child applies before execveat; plain data, because the
// child runs on a borrowed stack while the monitor is suspended.
struct SandboxChild {
  bool enabled = false;
  bool drop_groups = false;  // the monitor is root: shed its supplementary groups
  int clone_flags = 0;       // for the spawn clone()
  std::array<int, 5> ns_fds{-1, -1, -1, -1, -1};  // user first, then mnt, net, ipc, uts
  int pid_ns_fd = -1;          // the shared pid namespace, kept alive by its init
  const char* root = nullptr;  // an empty directory to chroot into
  std::array<std::pair<int, rlimit>, 6> limits{};
};

// The shared namespaces and root, made on first use. An error names what the
// kernel refused (e.g. user namespaces disabled).
Result<SandboxChild> sandbox_child(const Sandbox& s);

// Whether stubs spawned with `s` start in the shared pid namespace (only a
// root monitor can join one).
bool uses_shared_pid_ns(const Sandbox& s);
// Whether each stub is pid 1 of a pid namespace of its own (root monitor,
// not pooled); a non-root monitor's stubs share its pid namespace.
bool has_own_pid_ns(const Sandbox& s);
// Makes the calling thread's future children start in the shared pid
// namespace; once per thread, so only threads that spawn nothing else (the
// pool's) should call it.
Status sandbox_join_pid_ns(const Sandbox& s);

// In the spawn child: enter the namespaces, chroot, drop to the sandbox uid
// and set the limits. Returns 0 or an errno.
int sandbox_enter(const SandboxChild& c);

}  // namespace stubfuzz
