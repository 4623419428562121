// UML's own stub (uml/tree.h) behind the Stub handle. It is spawned as UML's
// monitor spawns it (socketpair, clone(CLONE_VM|CLONE_VFORK), the init data
// over fd 0, execveat of a sealed memfd holding the tree's stub_exe), and a
// thread of the monitor, the driver, plays stubfuzz's command protocol
// (stub_abi.h) on a mirror of the data page: each record becomes one round
// of UML's own protocol. The registers are written into the mcontext the
// stub's signal handler saved, the futex word is flipped to FUTEX_IN_CHILD,
// and the next signal it reports (SIGSYS, or SIGTRAP after the record) is
// read back. Guest pages (code, scratch, stack, the arenas) are mapped by
// the stub's own mmap batches, the memfd passed by SCM_RIGHTS, as UML maps
// guest memory. Nothing above the handle knows which stub runs.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>

#include "base/fd.h"
#include "base/result.h"
#include "stub/stub.h"
#include "uml/tree.h"

namespace stubfuzz {

// The layout of a UML stub at `l.stub_start`: its region is the code page
// and the tree's data pages; records' pointers point at a guest page.
StubLayout uml_layout(const uml::Tree& tree, StubLayout l);
// The tree's stub_exe in a sealed memfd, made once per path, as UML makes it
// once at boot; Stub::prepare makes it ahead.
Result<int> uml_stub_exe_image(const std::string& path);

// Guest pages, at fixed offsets below the stub: code (the outside gates and
// the spin), scratch, stack; then the arenas. One memfd holds them all.
enum UmlGuestPage : uint32_t {
  kGuestCode = 0,
  kGuestScratch,
  kGuestStack,
  kGuestBelow,  // the page just below the stub page
  kGuestAbove,  // the page just above the data pages
  kGuestAlias,  // the stub page's address + 4 GiB
  kGuestPages
};

class UmlDriver {
 public:
  UmlDriver(std::shared_ptr<const uml::Tree> tree, const StubLayout& layout);
  ~UmlDriver();
  UmlDriver(const UmlDriver&) = delete;
  UmlDriver& operator=(const UmlDriver&) = delete;

  // The memfd holding the stub code page and the data pages (UML's
  // "physical memory" fd), and the guest pages; the monitor maps both.
  Status prepare();
  int phys_fd() const { return phys_.get(); }
  // The init data for stub_exe, laid out as the tree's probe read it.
  std::vector<uint8_t> init_data() const;

  // After the spawn: waits for the first SIGSYS (the stub's exit after
  // installing its filter), maps the guest pages through the stub's own
  // mmap batch and starts the driver thread. An init that fails names the
  // step from stub_exe's exit code.
  Status start(pid_t pid, int pidfd, int sock, std::chrono::milliseconds bound);
  void stop();
  // The stub has reported (its futex word is FUTEX_IN_KERN) in a record
  // the driver has not finished with.
  bool stub_waiting() const;
  // Starts the driver thread, from the thread that posts the first batch.
  void ensure_running();

  stub_data* mirror() { return mirror_.get(); }
  Status write_scratch(std::span<const uint8_t> bytes, size_t offset);

 private:
  enum class Wait { kReported, kDied, kStopped, kTimedOut };
  Wait wait_report(std::chrono::milliseconds bound);
  // One round: resume the stub and wait for what it reports.
  Wait resume(std::chrono::milliseconds bound);
  Status map_guest_pages(std::chrono::milliseconds bound);
  void run();
  // Runs record i of the mirror; false: the stub has died or is stopping.
  bool run_record(uint32_t i);
  void died();

  uint8_t* data_field(const uml::Field& f) const { return data_ + f.offset; }
  template <class T>
  void put(const uml::Field& f, T v) const;
  uint64_t get(const uml::Field& f) const;
  uint8_t* mcontext() const;
  const uint8_t* siginfo() const;
  uint64_t guest_addr(UmlGuestPage p) const;
  uint8_t* guest_bytes(uint64_t addr, size_t len) const;

  std::shared_ptr<const uml::Tree> tree_;
  StubLayout layout_;
  Fd phys_, guest_;
  uint8_t* phys_map_ = nullptr;  // code page + data pages
  uint8_t* data_ = nullptr;      // struct stub_data
  uint8_t* guest_map_ = nullptr;
  pid_t pid_ = -1;
  int pidfd_ = -1, sock_ = -1;  // the Stub's; it outlives the driver
  std::unique_ptr<stub_data> mirror_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace stubfuzz
