#include "stub/spawn_slots.h"

#include <fcntl.h>
#include <unistd.h>

namespace stubfuzz {

Result<SpawnSlots*> SpawnSlots::get() {
  static std::mutex mu;
  static SpawnSlots* made = nullptr;
  std::lock_guard guard(mu);
  if (made) return made;
  auto* s = new SpawnSlots;  // never freed: the slots live as long as the process
  s->null_ = open("/dev/null", O_RDONLY | O_CLOEXEC);
  bool ok = s->null_ >= 0;
  int n = 0;
  // The lowest free numbers above stdio, as few as the table has then.
  for (; ok && n < kCount; n++) {
    s->slots_[n] = fcntl(s->null_, F_DUPFD_CLOEXEC, 3);
    ok = s->slots_[n] >= 0;
    if (ok && s->slots_[n] + 1 > s->end_) s->end_ = s->slots_[n] + 1;
  }
  if (!ok) {
    const int e = errno;
    for (int i = 0; i + 1 < n; i++) close(s->slots_[i]);
    if (s->null_ >= 0) close(s->null_);
    delete s;
    return Error::from_errno("reserving the spawn's fd slots", e);
  }
  made = s;
  return made;
}

Status SpawnSlots::place(int slot, int fd) {
  if (dup3(fd >= 0 ? fd : null_, slots_[slot], O_CLOEXEC) < 0)
    return Error::from_errno("dup3(into a spawn slot)");
  return {};
}

}  // namespace stubfuzz
