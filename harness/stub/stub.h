// A live stub and everything the monitor owns of it: the process (by pidfd),
// the control socket, the shared data pages and the listener pulled from it.
// The handle kills, reaps and closes all of it on every path.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "base/fd.h"
#include "base/result.h"
#include "filter/program.h"
#include "kernel/listener.h"
#include "kernel/sys.h"
#include "stub/sandbox.h"
#include "stub_abi.h"

namespace stubfuzz {

namespace uml {
struct Tree;
}
class UmlDriver;

using std::chrono::milliseconds;

// How often a wait on a silent stub checks whether it is still there, and
// how long a stub that was killed or is ending may take to be reaped.
inline constexpr milliseconds kLivenessSlice{50};
inline constexpr milliseconds kReapTimeout{5000};

// The seed: close_range() leaves only fd 0, so seccomp() returns fd 1.
inline constexpr int kStubListenerFd = 1;

// Where the stub and its guest-code arenas live.
struct StubLayout {
  uint64_t stub_start = 0x7e0010000000;
  // The code page and the data pages; UML's own stub has fewer data pages.
  uint64_t region_size = STUB_REGION_SIZE;
  // Where records' pointer arguments point; 0: the data page's scratch
  // buffer (UML's stub has a guest page for it).
  uint64_t scratch_addr = 0;
  uint64_t page_below() const { return stub_start - STUB_PAGE_SIZE; }
  uint64_t page_above() const { return stub_start + region_size; }
  // Differs from the stub page only in the upper 32 bits.
  uint64_t alias_page() const { return stub_start + (uint64_t{1} << 32); }
  uint64_t data_start() const { return stub_start + STUB_PAGE_SIZE; }
  uint64_t scratch() const;  // the data page's scratch buffer, in the stub
};

enum class SpawnMethod {
  kUmlClone,    // clone(CLONE_VM|CLONE_VFORK) + pidfd_open, as UML and the seed
  kClonePidfd,  // the same clone with CLONE_PIDFD: no pidfd_open
};

// Where spawn's time goes, for the benchmarks (nanoseconds since spawn began).
struct SpawnPhases {
  int64_t setup_done = 0;      // memfd, socket, init data written
  int64_t clone_returned = 0;  // the child has exec'd (CLONE_VFORK)
  int64_t pidfd_opened = 0;
  int64_t stub_ready = 0;  // filter installed, command loop running
  int64_t listener_pulled = 0;
};

struct StubConfig {
  filter::Program filter;
  // Installed before `filter`, without a listener: denies with an errno the
  // calls that could reach outside the sandbox (filter/safety_net.h).
  filter::Program safety_net;
  uint64_t seccomp_flags = 0;
  bool install_filter = true;
  // Pull fd 1 with pidfd_getfd when the flags ask for a listener.
  bool pull_listener = true;
  // Start a second thread before the filters (TSYNC covers it) to run the
  // records with thread == 1 (stub_abi.h).
  bool second_thread = false;
  StubLayout layout;
  SpawnMethod spawn = SpawnMethod::kUmlClone;
  // The stub factory's template (stub_abi.h, STUB_MODE_TEMPLATE): no filter,
  // no second thread; it forks stubs (stub/factory.h).
  bool factory_template = false;
  Sandbox sandbox;
  milliseconds ready_timeout{2000};
  SpawnPhases* phases = nullptr;  // filled in when set
  // UML's own stub from a user's tree (stub/uml_stub.h) instead of
  // stubfuzz's: spawned and driven by UML's protocol; `filter` is then what
  // that stub installs, read back from it, and the flags are its own.
  std::shared_ptr<const uml::Tree> uml;
};

class Stub {
 public:
  static Result<Stub> spawn(const StubConfig& config);
  // A stub of `config` forked by a factory template (stub/factory.h), which
  // must have the same layout and sandbox; `timeout` bounds the template's
  // answer.
  static Result<Stub> fork_from(Stub& template_stub, const StubConfig& config);
  // Makes the process-wide pieces spawn uses (the stub image memfd, the
  // sandbox's namespaces); they live until exit. spawn() does it on demand.
  static Status prepare(const StubConfig& config);

  Stub(Stub&& o) noexcept;
  Stub& operator=(Stub&& o) noexcept;
  Stub(const Stub&) = delete;
  Stub& operator=(const Stub&) = delete;
  ~Stub();

  pid_t pid() const { return pid_; }
  int pidfd() const { return pidfd_.get(); }
  const StubLayout& layout() const { return layout_; }
  // seccomp()'s return value in the stub: the listener fd, 0, or -errno.
  int64_t seccomp_ret() const { return data_->seccomp_ret; }
  kernel::Listener* listener() { return listener_ ? &*listener_ : nullptr; }
  std::optional<kernel::Listener> take_listener();
  const stub_data& data() const { return *data_; }

  // Fills the start of the data page's scratch buffer (at layout().scratch()
  // in the stub), for records whose pointer arguments point there.
  Status write_scratch(std::span<const uint8_t> bytes, size_t offset = 0);

  // The command protocol of stub_abi.h, one step at a time; waiting for the
  // stub and bounding it is the monitor's (monitor/batch.h).
  // Hands `records` to the stub's first thread and wakes it. With a
  // `spin_handoff`, a thread that reaches a spin record first wakes the
  // monitor and sleeps that long (stub_abi.h: spin_handoff_us), for a
  // monitor that recognises spins from the data page.
  Status post(std::span<const stub_record> records,
              std::chrono::microseconds spin_handoff = std::chrono::microseconds(0));
  // The word a thread (0 or 1) clears when its records are done.
  const uint32_t* done_word(int thread) const { return thread ? &data_->sync2 : &data_->sync; }
  // The thread's word will not be cleared: the stub or its second thread
  // has gone.
  bool thread_gone(int thread) const;
  // Records done in both threads so far; moves while the stub makes progress.
  uint64_t records_progress() const;
  // The results of the last post()'s `n` records.
  void read_results(std::span<stub_result> out) const;
  bool usable() const { return !exit_ && alive_word_ok(); }
  // Puts an idle stub back to its start state for the next program: the
  // data pages' command area and scratch as a fresh stub's, and the arenas
  // the records wrote into filled with int3 again (by the stub, before the
  // next batch's records: stub_abi.h refill_arenas). What the records'
  // calls did to the process is not undone: the caller resets only a stub
  // whose executed calls left no trace (stub/reset.h). An error: the stub
  // cannot be reset (busy, gone, or UML's, whose data page is a mirror).
  Status reset();
  bool resettable() const { return !uml_; }
  // data() is the stub's own data pages, shared with it; for UML's stub it
  // is the driver's mirror, and UML's pages hold UML's own struct.
  bool data_is_the_stubs() const { return !uml_; }
  // UML's stub (stub/uml_stub.h) has reported and waits for the driver.
  bool awaits_driver() const;

  // The second thread runs the batch's thread-1 records once started:
  // after the first thread's, or earlier, while the first waits in a
  // notification whose id is `pending_id`. Idempotent per batch.
  bool has_second_thread() const;
  Status start_second_thread(uint64_t pending_id);
  bool second_thread_started() const { return second_started_; }

  // What fd `fd` of the stub is, as /proc/<pid>/fd names it ("" if closed).
  std::string fd_target(int fd) const;

  // Kills (SIGKILL through the pidfd) and reaps; idempotent.
  Result<kernel::Exit> kill();
  // Reaps a stub that is ending by itself, at most `timeout` (0: poll).
  Result<std::optional<kernel::Exit>> wait_exit(milliseconds timeout);
  const std::optional<kernel::Exit>& exit() const { return exit_; }

 private:
  Stub() = default;
  // spawn()'s steps after the init data is on its way (UML's stub too):
  // the child becomes `name` from `image`, with `stub_sock` at fd 0 and
  // `data_fd` at fd 1; `mark` times the phases.
  using Mark = std::function<void(int64_t SpawnPhases::*)>;
  Status start_child(const StubConfig& config, int image, int stub_sock, int data_fd,
                     const char* name, const Mark& mark);
  Status await_ready(const StubConfig& config);
  // The data pages, shared with the stub, and the monitor's end of a new
  // control socket with the init data sent; returns the stub's end.
  Result<std::pair<Fd, Fd>> prepare_pages_and_socket(const StubConfig& config,
                                                     bool with_net = true);
  Status take_over(const StubConfig& config);
  bool alive_word_ok() const;
  uint32_t arenas_written_by(std::span<const stub_record> records) const;
  void release();
  // stub/uml_stub.cc: UML's spawn, and the driver that plays the command
  // protocol on a mirror of the data page.
  static Result<Stub> spawn_uml(const StubConfig& config);
  void release_uml();
  Status uml_write_scratch(std::span<const uint8_t> bytes, size_t offset);

  pid_t pid_ = -1;
  Fd pidfd_;
  Fd sock_;
  stub_data* data_ = nullptr;
  StubLayout layout_;
  std::optional<kernel::Listener> listener_;
  std::optional<kernel::Exit> exit_;
  // This batch's thread-2 records started (the monitor's thread may do it).
  std::atomic<bool> second_started_{false};
  // Set for UML's stub: data_ is then the driver's mirror.
  std::unique_ptr<UmlDriver> uml_;
  // The arenas records have written into since the last reset (bit i:
  // arena i of the data page).
  uint32_t arenas_written_ = 0;
};

}  // namespace stubfuzz
