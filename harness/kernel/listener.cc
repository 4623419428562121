#include "kernel/listener.h"

#include <poll.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <string>

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

Result<Notification> Listener::receive() {
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

}  // namespace stubfuzz::kernel
