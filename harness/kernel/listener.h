// The one owner of the seccomp user-notification ABI: every ioctl on a
// listener fd goes through this class. Buffer sizes come from
// SECCOMP_GET_NOTIF_SIZES, so a kernel with larger structs still works.
#pragma once

#include <linux/seccomp.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <vector>

#include "base/fd.h"
#include "base/result.h"

// Linux 6.6; Debian 12's headers predate them.
#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)
#endif
#ifndef SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (1UL << 0)
#endif

namespace stubfuzz::kernel {

struct NotifSizes {
  uint16_t notif = 0;
  uint16_t resp = 0;
  uint16_t data = 0;
};
Result<NotifSizes> notif_sizes();

struct Notification {
  uint64_t id = 0;
  uint32_t pid = 0;
  uint32_t flags = 0;
  seccomp_data data{};
};

// How the monitor answers a notification.
struct Response {
  uint64_t id = 0;
  int64_t val = 0;
  int32_t error = 0;   // negative errno, or 0
  uint32_t flags = 0;  // SECCOMP_USER_NOTIF_FLAG_CONTINUE
};

enum class ListenerEvent { kNone, kNotification, kHangUp };

// What a kernel's listeners support, probed in forked children (kernel/facts.h
// caches it): the seed's install flags, SYNC_WAKE_UP, and whether NOTIF_RECV
// returns ENOENT once the filter has no users left.
struct ListenerFeatures {
  bool tsync_esrch = false;
  bool sync_wake_up = false;
  bool recv_after_hangup = false;
};
ListenerFeatures probe_listener_features();

class Listener {
 public:
  // Takes ownership of `fd`; fails if it is not a seccomp listener.
  static Result<Listener> adopt(Fd fd);

  int fd() const { return fd_.get(); }

  // Waits up to `timeout` for a notification, then receives it; never blocks
  // past that: EAGAIN when none came. Once every filter user is gone it is
  // the kernel's ENOENT where NOTIF_RECV gives one (6.11+), else ENOENT
  // without asking (NOTIF_RECV would block until a signal).
  Result<Notification> receive(std::chrono::milliseconds timeout = std::chrono::milliseconds(0));
  Status send(const Response& r);
  // true if `id` is still pending (the task is still waiting for it).
  Result<bool> id_valid(uint64_t id);
  Status set_flags(uint64_t flags);

  // Waits up to `timeout` for a notification or for every filter user to die.
  Result<ListenerEvent> wait(std::chrono::milliseconds timeout);

  // "anon_inode:seccomp notify": what the kernel names a listener fd.
  static bool is_listener(int fd);
  static bool is_listener_path(const std::string& fd_path);

 private:
  Listener(Fd fd, NotifSizes sizes) : fd_(std::move(fd)), sizes_(sizes) {}
  Fd fd_;
  NotifSizes sizes_;
  std::vector<uint8_t> notif_buf_, resp_buf_;
};

}  // namespace stubfuzz::kernel
