// Low fds reserved for the seed path's spawn (Stub::start_child). Its
// clone(CLONE_VM|CLONE_VFORK) used to copy the monitor's whole fd table,
// three fds a live stub, and its exec then closed them all: the thousandth
// stub cost 2.5x the first. Now the clone shares the table (CLONE_FILES)
// and the child keeps only the fds below end() (close_range with
// CLOSE_RANGE_UNSHARE), so the fds it needs are first moved into these
// slots, under lock(). The stub it execs starts with the same fds either way
// (stub/child_fds.h).
#pragma once

#include <array>
#include <mutex>

#include "base/result.h"

namespace stubfuzz {

class SpawnSlots {
 public:
  // The image, the stub's socket end, its data memfd, and the sandbox's
  // namespaces (stub/sandbox.h: user, mnt, net, ipc, uts).
  static constexpr int kCount = 8;
  enum Slot { kImage, kSocket, kData, kFirstNamespace };

  // The process's slots, reserved on first use (open fds: they live as long
  // as the process, as the sandbox's namespace fds do). An error if they
  // could not be (no fds left); a later call tries again.
  static Result<SpawnSlots*> get();

  std::mutex& lock() { return mu_; }
  // Points `slot` at `fd` (close-on-exec, as every monitor fd); -1: back to
  // /dev/null. Holds lock() while a spawn uses them.
  Status place(int slot, int fd);
  int fd(int slot) const { return slots_[slot]; }
  // One past the highest slot: what the child keeps of the table.
  int end() const { return end_; }

 private:
  SpawnSlots() = default;
  std::mutex mu_;
  int null_ = -1;
  std::array<int, kCount> slots_{};
  int end_ = 0;
};

}  // namespace stubfuzz
