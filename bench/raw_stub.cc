#include "raw_stub.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "plain.h"
#include "raw_stub_child.h"
#include "stub/child_fds.h"
#include "stub/stub_image.h"
#include "zygote.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

namespace stubfuzz::bench {

namespace {

std::string errno_text(const char* call, int e = errno) {
  return std::string(call) + ": " + strerror(e);
}

bool send_all(int fd, const void* buf, size_t len) {
  auto* p = static_cast<const char*>(buf);
  while (len) {
    ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
    if (n < 0) return false;
    p += n;
    len -= static_cast<size_t>(n);
  }
  return true;
}

std::string send_init(int sock, const RawConfig& c) {
  const StubLayout& l = c.layout;
  stub_init_data init{};
  init.magic = STUB_INIT_MAGIC;
  init.filter_len = static_cast<uint32_t>(c.filter.size());
  init.net_len = static_cast<uint32_t>(c.safety_net.size());
  init.second_thread = c.second_thread ? 1 : 0;
  init.mode = c.mode;
  init.stub_start = l.stub_start;
  init.seccomp_flags = c.seccomp_flags;
  init.install_filter = c.install_filter ? 1 : 0;
  // The harness's three arenas, so the stub does the same work.
  init.narenas = 3;
  init.arenas[0] = {l.page_below(), STUB_PAGE_SIZE};
  init.arenas[1] = {l.page_above(), STUB_PAGE_SIZE};
  init.arenas[2] = {l.alias_page(), STUB_PAGE_SIZE};
  if (!send_all(sock, &init, sizeof(init)) ||
      !send_all(sock, c.safety_net.data(), c.safety_net.size() * sizeof(sock_filter)) ||
      !send_all(sock, c.filter.data(), c.filter.size() * sizeof(sock_filter)))
    return errno_text("send(init data)");
  return "";
}

std::string launch(Strategy s, ChildArgs* args, pid_t* pid, int* pidfd) {
  alignas(16) static char stack[16384];
  switch (s) {
    case Strategy::kCloneVfork:
    case Strategy::kClonePidfd: {
      int flags = CLONE_VM | CLONE_VFORK | SIGCHLD;
      if (s == Strategy::kClonePidfd) flags |= CLONE_PIDFD;
      *pid = clone(exec_stub_child, stack + sizeof(stack), flags, args, pidfd);
      if (*pid < 0) return errno_text("clone");
      break;
    }
    case Strategy::kForkExecve:
    case Strategy::kForkExecveat:
      args->by_path = s == Strategy::kForkExecve;
      *pid = fork();
      if (*pid < 0) return errno_text("fork");
      if (*pid == 0) exec_stub_child(args);
      break;
    case Strategy::kPosixSpawn: {
      posix_spawn_file_actions_t fa;
      posix_spawn_file_actions_init(&fa);
      posix_spawn_file_actions_adddup2(&fa, args->sock_fd, STUB_SOCKET_FD);
      posix_spawn_file_actions_adddup2(&fa, args->data_fd, STUB_DATA_FD);
      // Everything else is O_CLOEXEC; fd 2 stays until the stub's close_range.
      char path[64];
      snprintf(path, sizeof(path), "/proc/self/fd/%d", args->image_fd);
      static char* const argv[] = {const_cast<char*>("stubfuzz-stub"), nullptr};
      static char* const envp[] = {nullptr};
      int e = posix_spawn(pid, path, &fa, nullptr, argv, envp);
      posix_spawn_file_actions_destroy(&fa);
      if (e) return errno_text("posix_spawn", e);
      break;
    }
    case Strategy::kZygote:
      return zygote_spawn(args->sock_fd, args->data_fd, pid, pidfd);
  }
  return "";
}

std::string wait_ready(RawStub* st) {
  const auto deadline = Clock::now() + std::chrono::seconds(2);
  for (;;) {
    const uint32_t v = __atomic_load_n(&st->data->sync, __ATOMIC_ACQUIRE);
    if (v == 0) return "";
    if (v & FUTEX_OWNER_DIED)
      return "stub died during init (step " + std::to_string(st->data->init_error) + ")";
    if (Clock::now() > deadline) return "stub not ready within 2 s";
    timespec ts{0, 50'000'000};
    if (syscall(SYS_futex, &st->data->sync, FUTEX_WAIT, v, &ts, nullptr, 0) < 0 &&
        errno == ETIMEDOUT) {
      siginfo_t si{};
      if (waitid(static_cast<idtype_t>(P_PIDFD), st->pidfd, &si, WEXITED | WNOHANG) == 0 &&
          si.si_pid != 0) {
        close(st->pidfd);
        st->pidfd = -1;
        return "stub exited during init (status " + std::to_string(si.si_status) + ")";
      }
    }
  }
}

// The data pages (a shared memfd, `sync` set to BOOTING) and the socket pair
// with the init data in it. On failure *data_fd stays -1 or the error is set;
// the caller closes *data_fd and *stub_sock either way.
std::string prepare(const RawConfig& c, RawStub* st, int* data_fd, int* stub_sock) {
  const int fd = memfd_create("stubfuzz-data", MFD_CLOEXEC);
  if (fd < 0) return errno_text("memfd_create");
  if (ftruncate(fd, STUB_DATA_PAGES * STUB_PAGE_SIZE) < 0) {
    close(fd);
    return errno_text("ftruncate");
  }
  void* mem =
      mmap(nullptr, STUB_DATA_PAGES * STUB_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (mem == MAP_FAILED) {
    close(fd);
    return errno_text("mmap(data)");
  }
  st->data = static_cast<stub_data*>(mem);
  st->data->sync = STUB_SYNC_BOOTING;
  int socks[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, socks) < 0) {
    close(fd);
    return errno_text("socketpair");
  }
  *data_fd = fd;
  st->sock = socks[0];
  *stub_sock = socks[1];
  return send_init(st->sock, c);
}

std::string pull_listener(const RawConfig& c, RawStub* st) {
  if (!c.install_filter || c.handover == Handover::kNone) return "";
  const int fd = c.handover == Handover::kAssumeFd1 ? kStubListenerFd
                                                    : static_cast<int>(st->data->seccomp_ret);
  st->listener = static_cast<int>(syscall(SYS_pidfd_getfd, st->pidfd, fd, 0));
  return st->listener < 0 ? errno_text("pidfd_getfd") : "";
}
}  // namespace

RawStub& RawStub::operator=(RawStub&& o) noexcept {
  if (this == &o) return *this;
  end();
  pid = std::exchange(o.pid, -1);
  pidfd = std::exchange(o.pidfd, -1);
  sock = std::exchange(o.sock, -1);
  listener = std::exchange(o.listener, -1);
  data = std::exchange(o.data, nullptr);
  return *this;
}

void RawStub::end() {
  if (pidfd >= 0) {
    syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, nullptr, 0);
    siginfo_t si{};
    while (waitid(static_cast<idtype_t>(P_PIDFD), pidfd, &si, WEXITED) < 0 && errno == EINTR) {
    }
    close(pidfd);
  }
  if (listener >= 0) close(listener);
  if (sock >= 0) close(sock);
  if (data) munmap(data, STUB_DATA_PAGES * STUB_PAGE_SIZE);
  pidfd = sock = listener = -1;
  data = nullptr;
}

std::string spawn_raw(Strategy s, const RawConfig& c, RawStub* out, SpawnPhases* ph) {
  auto image = stub_image_fd();
  if (!image) return image.error().message;
  RawStub st;
  const auto t0 = Clock::now();
  auto mark = [&](int64_t SpawnPhases::*field) {
    if (ph) ph->*field = since_ns(t0);
  };

  int data_fd = -1, stub_sock = -1;
  std::string err = prepare(c, &st, &data_fd, &stub_sock);
  if (data_fd < 0) return err;
  mark(&SpawnPhases::setup_done);

  ChildArgs args{*image, stub_sock, data_fd, 0, false};
  if (err.empty()) err = launch(s, &args, &st.pid, &st.pidfd);
  mark(&SpawnPhases::clone_returned);
  close(stub_sock);
  close(data_fd);
  if (!err.empty()) return err;
  if (st.pidfd < 0) {
    st.pidfd = static_cast<int>(syscall(SYS_pidfd_open, st.pid, 0));
    if (st.pidfd < 0) {
      ::kill(st.pid, SIGKILL);
      waitpid(st.pid, nullptr, 0);
      return errno_text("pidfd_open");
    }
  }
  mark(&SpawnPhases::pidfd_opened);
  if (args.failed_errno) return errno_text("execveat(stub)", args.failed_errno);
  if (err = wait_ready(&st); !err.empty()) return err;
  mark(&SpawnPhases::stub_ready);

  if (err = pull_listener(c, &st); !err.empty()) return err;
  mark(&SpawnPhases::listener_pulled);
  *out = std::move(st);
  return "";
}

}  // namespace stubfuzz::bench

namespace stubfuzz::bench {

__attribute__((no_sanitize("address", "undefined"))) int exec_stub_child(void* p) {
  auto* a = static_cast<ChildArgs*>(p);
  static const char* const argv[] = {"stubfuzz-stub", nullptr};
  static const char* const envp[] = {nullptr};
  if (int e = stub_child_fds(a->sock_fd, a->data_fd)) {
    a->failed_errno = e;
    syscall(SYS_exit, 127);
  }
  if (a->by_path) {
    // Built by hand: no snprintf in a vfork'd child.
    char path[32] = "/proc/self/fd/";
    char digits[12];
    int n = 0;
    for (int v = a->image_fd; v > 0 || n == 0; v /= 10)
      digits[n++] = static_cast<char>('0' + v % 10);
    int at = 14;
    while (n) path[at++] = digits[--n];
    path[at] = 0;
    syscall(SYS_execve, path, argv, envp);
  } else {
    syscall(SYS_execveat, a->image_fd, "", argv, envp, AT_EMPTY_PATH);
  }
  a->failed_errno = errno;
  syscall(SYS_exit, 127);
  return 127;
}

std::string fork_raw(const RawStub& factory_template, const RawConfig& c, RawStub* out) {
  RawStub st;
  int data_fd = -1, stub_sock = -1;
  std::string err = prepare(c, &st, &data_fd, &stub_sock);
  if (data_fd < 0) return err;
  // The template forks a child that takes these two fds and answers with
  // its pidfd, or with no fd and -errno (stub_abi.h, STUB_MODE_TEMPLATE).
  const int pass[2] = {stub_sock, data_fd};
  const char request = 1;
  if (err.empty() && !send_fds(factory_template.sock, &request, 1, pass, 2))
    err = errno_text("sendmsg(template)");
  close(stub_sock);
  close(data_fd);
  if (!err.empty()) return err;
  int32_t reply = 0;
  int got[2] = {-1, -1};
  if (recv_fds(factory_template.sock, &reply, sizeof(reply), got) != 1)
    return "template: no pidfd in its reply (" + std::string(strerror(-reply)) + ")";
  st.pidfd = got[0];
  if (err = wait_ready(&st); !err.empty()) return err;
  // Unsandboxed, the stub's tid is its pid here.
  st.pid = static_cast<pid_t>(st.data->stub_tid);
  if (err = pull_listener(c, &st); !err.empty()) return err;
  *out = std::move(st);
  return "";
}

void post_raw(RawStub& st, const stub_record* records, uint32_t n) {
  stub_data* d = st.data;
  memcpy(d->records, records, n * sizeof(stub_record));
  memset(d->results, 0, n * sizeof(stub_result));
  d->nrecords = n;
  __atomic_store_n(&d->current, STUB_MAX_RECORDS, __ATOMIC_RELAXED);
  __atomic_store_n(&d->current2, STUB_MAX_RECORDS, __ATOMIC_RELAXED);
  __atomic_store_n(&d->pending_id, 0, __ATOMIC_RELEASE);
  __atomic_store_n(&d->sync, d->stub_tid | FUTEX_WAITERS, __ATOMIC_RELEASE);
  futex_wake(&d->sync);
}

RawEnd wait_raw(RawStub& st, int timeout_ms) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    const uint32_t v = __atomic_load_n(&st.data->sync, __ATOMIC_ACQUIRE);
    if (v == 0) return RawEnd::kCompleted;
    if (v & FUTEX_OWNER_DIED) return RawEnd::kDied;
    if (Clock::now() > deadline) return RawEnd::kTimedOut;
    futex_wait(&st.data->sync, v);
  }
}

}  // namespace stubfuzz::bench
