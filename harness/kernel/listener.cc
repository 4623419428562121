#include "kernel/listener.h"

#include <fcntl.h>
#include <linux/filter.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <string>

#include "kernel/child.h"
#include "kernel/facts.h"

namespace stubfuzz::kernel {

Result<NotifSizes> notif_sizes() {
  // The kernel's sizes do not change while we run: ask once, on every spawn's
  // hand-over path otherwise. Never destroyed: a pool thread may still be
  // spawning while the process exits.
  static const Result<NotifSizes>& sizes = *new Result<NotifSizes>([]() -> Result<NotifSizes> {
    seccomp_notif_sizes s{};
    if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &s) < 0)
      return Error::from_errno("seccomp(SECCOMP_GET_NOTIF_SIZES)");
    return NotifSizes{s.seccomp_notif, s.seccomp_notif_resp, s.seccomp_data};
  }());
  return sizes;
}

bool Listener::is_listener_path(const std::string& fd_path) {
  char target[64] = {};
  ssize_t n = readlink(fd_path.c_str(), target, sizeof(target) - 1);
  return n > 0 && std::strcmp(target, "anon_inode:seccomp notify") == 0;
}

bool Listener::is_listener(int fd) {
  return is_listener_path("/proc/self/fd/" + std::to_string(fd));
}

Result<Listener> Listener::adopt(Fd fd) {
  if (!is_listener(fd.get()))
    return Error{"fd " + std::to_string(fd.get()) + " is not a seccomp listener", 0};
  auto sizes = notif_sizes();
  if (!sizes) return sizes.error();
  Listener l(std::move(fd), *sizes);
  l.notif_buf_.resize(std::max<size_t>(sizes->notif, sizeof(seccomp_notif)));
  l.resp_buf_.resize(std::max<size_t>(sizes->resp, sizeof(seccomp_notif_resp)));
  return l;
}

Result<Notification> Listener::receive(std::chrono::milliseconds timeout) {
  auto ev = wait(timeout);
  if (!ev) return ev.error();
  if (*ev == ListenerEvent::kNone)
    return Error{"no notification within " + std::to_string(timeout.count()) + " ms", EAGAIN};
  if (*ev == ListenerEvent::kHangUp && !facts().recv_after_hangup)
    return Error{
        "ioctl(SECCOMP_IOCTL_NOTIF_RECV): not called, the filter has no users left "
        "(this kernel would block): ENOENT",
        ENOENT};
  std::memset(notif_buf_.data(), 0, notif_buf_.size());
  if (ioctl(fd_.get(), SECCOMP_IOCTL_NOTIF_RECV, notif_buf_.data()) < 0)
    return Error::from_errno("ioctl(SECCOMP_IOCTL_NOTIF_RECV)");
  seccomp_notif n;
  std::memcpy(&n, notif_buf_.data(), sizeof(n));
  return Notification{n.id, n.pid, n.flags, n.data};
}

Status Listener::send(const Response& r) {
  std::memset(resp_buf_.data(), 0, resp_buf_.size());
  seccomp_notif_resp resp{r.id, r.val, r.error, r.flags};
  std::memcpy(resp_buf_.data(), &resp, sizeof(resp));
  if (ioctl(fd_.get(), SECCOMP_IOCTL_NOTIF_SEND, resp_buf_.data()) < 0)
    return Error::from_errno("ioctl(SECCOMP_IOCTL_NOTIF_SEND)");
  return {};
}

Result<bool> Listener::id_valid(uint64_t id) {
  if (ioctl(fd_.get(), SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0) return true;
  if (errno == ENOENT) return false;
  return Error::from_errno("ioctl(SECCOMP_IOCTL_NOTIF_ID_VALID)");
}

Status Listener::set_flags(uint64_t flags) {
  if (ioctl(fd_.get(), SECCOMP_IOCTL_NOTIF_SET_FLAGS, flags) < 0)
    return Error::from_errno("ioctl(SECCOMP_IOCTL_NOTIF_SET_FLAGS)");
  return {};
}

Result<ListenerEvent> Listener::wait(std::chrono::milliseconds timeout) {
  pollfd p{fd_.get(), POLLIN, 0};
  int n = poll(&p, 1, static_cast<int>(timeout.count()));
  if (n < 0) return Error::from_errno("poll(listener)");
  if (n == 0) return ListenerEvent::kNone;
  if (p.revents & POLLIN) return ListenerEvent::kNotification;
  return ListenerEvent::kHangUp;
}

namespace {

int install_allow_all(unsigned flags) {
  sock_filter allow = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
  const sock_fprog prog{1, &allow};
  return install_in_child(&prog, flags);
}

// A listener whose filter's only user has ended, pulled from that user.
Result<Fd> orphaned_listener() {
  int ready[2], go[2];
  if (pipe2(ready, O_CLOEXEC) != 0) return Error::from_errno("pipe2");
  Fd ready_r(ready[0]), ready_w(ready[1]);
  if (pipe2(go, O_CLOEXEC) != 0) return Error::from_errno("pipe2");
  Fd go_r(go[0]), go_w(go[1]);
  const pid_t pid = fork();
  if (pid < 0) return Error::from_errno("fork (listener probe)");
  if (pid == 0) {
    reset_signals_in_child();
    close(ready[0]);
    close(go[1]);  // else its read below never sees EOF
    const int fd = install_allow_all(SECCOMP_FILTER_FLAG_NEW_LISTENER);
    char c;
    if (write(ready[1], &fd, sizeof(fd)) == sizeof(fd)) (void)!read(go[0], &c, 1);
    _exit(0);
  }
  ready_w = Fd();
  go_r = Fd();
  auto pidfd = pidfd_open(pid);
  int fd = -1;
  const bool got = read(ready_r.get(), &fd, sizeof(fd)) == sizeof(fd) && fd >= 0;
  Result<Fd> listener = got ? pidfd_getfd(pidfd ? pidfd->get() : -1, fd, pid)
                            : Result<Fd>(Error{"listener probe: no listener", EINVAL});
  go_w = Fd();  // the user ends; its filter's users drop to 0 when reaped
  if (!pidfd || !reap(pidfd->get(), kProbeChildBound).ok()) {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  }
  return listener;
}

// /proc/<pid>/syscall names the call a task is blocked in: ioctl is 16.
bool blocked_in_ioctl(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/syscall");
  long nr = -1;
  return in >> nr && nr == SYS_ioctl;
}

// Whether NOTIF_RECV on an orphaned listener returns ENOENT, or blocks.
bool recv_returns_after_hangup() {
  auto listener = orphaned_listener();
  if (!listener) return false;
  std::vector<uint8_t> buf(std::max<size_t>(sizeof(seccomp_notif), 4096));
  const int fd = listener->get();
  const pid_t pid = fork();
  if (pid < 0) return false;
  if (pid == 0)
    _exit(ioctl(fd, SECCOMP_IOCTL_NOTIF_RECV, buf.data()) < 0 && errno == ENOENT ? 0 : 1);
  auto pidfd = pidfd_open(pid);
  if (!pidfd) {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    return false;
  }
  const auto deadline = Clock::now() + kProbeChildBound;
  while (Clock::now() < deadline) {
    auto r = reap(pidfd->get(), std::chrono::milliseconds(5));
    if (r && r->has_value()) return (*r)->exited_with(0);
    if (blocked_in_ioctl(pid)) break;
  }
  (void)pidfd_send_signal(pidfd->get(), SIGKILL);
  (void)reap(pidfd->get(), kProbeChildBound);
  return false;
}

}  // namespace

ListenerFeatures probe_listener_features() {
  ListenerFeatures f;
  auto e = run_child("listener probe", [] {
    const int fd = install_allow_all(SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_TSYNC |
                                     SECCOMP_FILTER_FLAG_TSYNC_ESRCH);
    if (fd < 0) return 0;
    return 1 |
           (ioctl(fd, SECCOMP_IOCTL_NOTIF_SET_FLAGS, SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP) == 0 ? 2
                                                                                              : 0);
  });
  const int bits = e && e->code == CLD_EXITED ? e->status : 0;
  f.tsync_esrch = bits & 1;
  f.sync_wake_up = bits & 2;
  f.recv_after_hangup = recv_returns_after_hangup();
  return f;
}

}  // namespace stubfuzz::kernel
