#include "check/probes.h"

#include <linux/audit.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include <array>
#include <utility>

#include "kernel/facts.h"

namespace stubfuzz {

namespace {

constexpr uint64_t kAnonRead[] = {
    0, STUB_PAGE_SIZE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, static_cast<uint64_t>(-1), 0};
stub_record mmap_record(Origin origin, uint64_t addr = 0) {
  stub_record r = make_record(origin, Abi::kX86_64, SYS_mmap, {}, addr);
  std::copy(std::begin(kAnonRead), std::end(kAnonRead), r.args);
  return r;
}

constexpr std::array<std::pair<unsigned long, const char*>, 3> kListenerIoctls = {{
    {SECCOMP_IOCTL_NOTIF_RECV, "SECCOMP_IOCTL_NOTIF_RECV"},
    {SECCOMP_IOCTL_NOTIF_SEND, "SECCOMP_IOCTL_NOTIF_SEND"},
    {SECCOMP_IOCTL_NOTIF_ID_VALID, "SECCOMP_IOCTL_NOTIF_ID_VALID"},
}};

constexpr const char* kListenerLink = "anon_inode:seccomp notify";

// The monitor's copy answers ioctls and has not hung up.
void expect_listener_works(Lab& lab, kernel::Listener* l, const std::string& when) {
  if (!lab.expect(l != nullptr, when + ": the monitor has no listener")) return;
  auto valid = l->id_valid(0x5eed);
  lab.expect(valid.ok() && !*valid, when + ": NOTIF_ID_VALID on the monitor's listener: " +
                                        (valid ? "unexpectedly valid" : valid.error().message));
  auto ev = l->wait(std::chrono::milliseconds(0));
  lab.expect(ev.ok() && *ev == kernel::ListenerEvent::kNone,
             when + ": the monitor's listener reports an event while the stub lives");
}

void probe_listener_fd_1(Lab& lab) {
  auto s = lab.spawn();
  if (!s) return;
  lab.expect(s->seccomp_ret() == kStubListenerFd,
             "seccomp() returned " + std::to_string(s->seccomp_ret()) + ", not fd 1");
  lab.expect(s->fd_target(kStubListenerFd) == kListenerLink,
             "fd 1 in the stub is '" + s->fd_target(kStubListenerFd) + "'");
  lab.expect(s->fd_target(2).empty(), "the stub has an fd 2: " + s->fd_target(2));
  auto* l = s->listener();
  lab.expect(l && kernel::Listener::is_listener(l->fd()),
             "what pidfd_getfd pulled is not a seccomp listener");
  expect_listener_works(lab, l, "after the pull");
}

void probe_no_listener_ioctl(Lab& lab) {
  for (const auto& [cmd, name] : kListenerIoctls) {
    const std::string call = std::string("ioctl(1, ") + name + ")";
    // From the stub page: ioctl is not allowlisted, so the filter kills.
    if (auto s = lab.spawn()) {
      if (auto o = lab.run(*s, {from_stub(SYS_ioctl, {1, cmd, s->layout().scratch()})}))
        lab.expect_killed(*o, 0, call + " from the stub page");
    }
    // From outside: it traps, and the monitor's listener is unaffected.
    if (auto s = lab.spawn()) {
      auto o = lab.run(*s, {from_outside(SYS_ioctl, {1, cmd, s->layout().scratch()})});
      if (o)
        lab.expect_trapped(*o, 0, SYS_ioctl, AUDIT_ARCH_X86_64,
                           s->data().outside_gate[STUB_ABI_X86_64] + 2, call + " from outside");
      expect_listener_works(lab, s->listener(), "after " + call + " from outside");
    }
  }
  // i386 ioctl (54) from the stub page: the arch check kills first.
  if (auto s = lab.spawn()) {
    const stub_record rec = i386_from_stub(54, {1, SECCOMP_IOCTL_NOTIF_RECV, 0});
    if (auto o = lab.run(*s, {rec}))
      lab.expect_killed(*o, 0, rec, "i386 ioctl(1, NOTIF_RECV) from the stub page");
  }
}

void probe_outside_traps(Lab& lab) {
  auto s = lab.spawn();
  if (!s) return;
  const StubLayout& l = s->layout();
  const uint64_t gate = s->data().outside_gate[STUB_ABI_X86_64] + 2;
  const stub_record fd_attacks[] = {
      from_outside(SYS_close, {1}),
      from_outside(SYS_sendmsg, {0, l.scratch(), 0}),
      from_outside(SYS_dup2, {0, 1}),
      from_outside(SYS_dup3, {0, 1, 0}),
      from_outside(SYS_close_range, {0, ~0u, 0}),
      from_outside(SYS_getpid),
      mmap_record(Origin::kOutside),
  };
  if (auto o = lab.run(*s, fd_attacks)) {
    for (uint32_t i = 0; i < std::size(fd_attacks); i++)
      lab.expect_trapped(*o, i, fd_attacks[i].nr, AUDIT_ARCH_X86_64, gate,
                         "nr " + std::to_string(fd_attacks[i].nr) + " from outside");
  }
  // Guest code just above the stub region and at the upper-32-bit alias.
  const stub_record edges[] = {
      at_address(l.page_above(), SYS_getpid),
      at_address(l.alias_page() + 0x100, SYS_getpid),
      mmap_record(Origin::kAddress, l.alias_page() + 0x200),
  };
  if (auto o = lab.run(*s, edges)) {
    for (uint32_t i = 0; i < std::size(edges); i++)
      lab.expect_trapped(
          *o, i, edges[i].nr, AUDIT_ARCH_X86_64, edges[i].addr + 2,
          "nr " + std::to_string(edges[i].nr) + " at " + std::to_string(edges[i].addr));
  }
  if (lab.profile().wants_listener())
    lab.expect(s->fd_target(kStubListenerFd) == kListenerLink,
               "after the attacks from outside, fd 1 is '" + s->fd_target(kStubListenerFd) + "'");
  lab.expect(s->fd_target(STUB_SOCKET_FD).rfind("socket:", 0) == 0,
             "after the attacks from outside, fd 0 is '" + s->fd_target(0) + "'");
}

void probe_stub_allowlist(Lab& lab) {
  // Allowed calls execute: mmap (the seed changes no behaviour), munmap,
  // arch_prctl, and a futex wake.
  if (auto s = lab.spawn()) {
    auto o = lab.run(*s, {mmap_record(Origin::kStub)});
    if (o && lab.expect_returned(*o, 0, "mmap from the stub page")) {
      const auto addr = static_cast<uint64_t>(o->results[0].ret);
      lab.expect(addr % STUB_PAGE_SIZE == 0 && addr != 0, "mmap from the stub page failed");
      constexpr uint64_t kArchGetFs = 0x1003;
      if (auto o2 = lab.run(*s, {from_stub(SYS_munmap, {addr, STUB_PAGE_SIZE}),
                                 from_stub(SYS_arch_prctl, {kArchGetFs, s->layout().scratch()}),
                                 from_stub(SYS_futex, {s->layout().scratch(), 1 /* WAKE */, 1})})) {
        for (uint32_t i = 0; i < 3; i++) {
          lab.expect_returned(*o2, i,
                              "allowlisted nr " + std::to_string(i) + " from the stub page");
          lab.expect(o2->results[i].ret >= 0, "an allowlisted call from the stub page failed: " +
                                                  std::to_string(o2->results[i].ret));
        }
      }
    }
  }
  // Anything else, and any i386 call, kills.
  const stub_record killers[] = {
      from_stub(SYS_getpid),
      from_stub(SYS_write, {0, 0, 0}),
      from_stub(SYS_dup2, {0, 1}),
      from_stub(SYS_execve),
      i386_from_stub(20 /* getpid */),
      i386_from_stub(91 /* munmap */),
      i386_from_stub(11 /* execve, not munmap */),
  };
  for (const auto& rec : killers) {
    auto s = lab.spawn();
    if (!s) continue;
    if (auto o = lab.run(*s, {rec}))
      lab.expect_killed(*o, 0, rec,
                        std::string(rec.abi == STUB_ABI_I386 ? "i386" : "x86_64") + " nr " +
                            std::to_string(rec.nr) + " from the stub page");
  }
}

void probe_listener_survives(Lab& lab) {
  auto s = lab.spawn();
  if (!s) return;
  // The stub drops its own copy (allowlisted close): the monitor's lives on.
  if (auto o = lab.run(*s, {from_stub(SYS_close, {1})}))
    expect_listener_works(lab, s->listener(), "after the stub closed its fd 1");
  auto listener = s->take_listener();
  if (!lab.expect(listener.has_value(), "no listener to watch")) return;
  auto killed = s->kill();
  lab.expect(killed.ok(), "kill: " + (killed ? std::string() : killed.error().message));
  auto ev = listener->wait(std::chrono::milliseconds(1000));
  lab.expect(ev.ok() && *ev == kernel::ListenerEvent::kHangUp,
             "the monitor's listener did not report POLLHUP after the stub died");
  if (!kernel::facts().recv_after_hangup)
    lab.note("NOTIF_RECV after hang-up blocks on this kernel (before 6.11): not called");
  auto n = listener->receive();
  lab.expect(
      !n.ok() && n.error().err == ENOENT,
      "NOTIF_RECV after the stub died: " + (n ? std::string("a notification") : n.error().message));
  auto late = kernel::pidfd_getfd(s->pidfd(), kStubListenerFd, s->pid());
  lab.expect(
      !late.ok() && late.error().err == ESRCH,
      "pidfd_getfd on the dead stub: " + (late ? std::string("succeeded") : late.error().message));
}

bool reproduce_close_listener(Lab& lab) {
  auto s = lab.spawn();
  if (!s) return false;
  auto o = lab.run(*s, {from_stub(SYS_close, {1})});
  return o && o->end == BatchEnd::kCompleted && o->results[0].ret == 0 && !o->results[0].trapped &&
         s->fd_target(kStubListenerFd).empty();
}

bool reproduce_syscall_below_page(Lab& lab) {
  auto s = lab.spawn();
  if (!s) return false;
  auto o = lab.run(*s, {mmap_record(Origin::kAddress, s->layout().stub_start - 2)});
  return o && o->end == BatchEnd::kCompleted && !o->results[0].trapped && o->results[0].ret > 0 &&
         o->results[0].ret % STUB_PAGE_SIZE == 0;
}

// uretprobe and uprobe from outside the page: they trap unless the kernel
// runs them without the filter. Present when either executes.
bool reproduce_seccomp_exemption(Lab& lab) {
  bool any = false;
  for (uint32_t nr : {kernel::kUretprobeNr, kernel::kUprobeNr}) {
    auto s = lab.spawn();
    if (!s) return false;
    auto o = lab.run(*s, {from_outside(nr)});
    if (!o) return false;
    const stub_result& r = o->results[0];
    const bool trapped = r.status == STUB_RESULT_DONE && r.trapped;
    const bool filter_killed = o->exit && o->exit->killed_by(SIGSYS);
    any = any || !(trapped || filter_killed);
  }
  return any;
}

}  // namespace

Probe probe_for(ClaimId claim) {
  switch (claim) {
    case ClaimId::kListenerFd1:
      return probe_listener_fd_1;
    case ClaimId::kNoListenerIoctl:
      return probe_no_listener_ioctl;
    case ClaimId::kOutsideTraps:
      return probe_outside_traps;
    case ClaimId::kStubAllowlist:
      return probe_stub_allowlist;
    case ClaimId::kListenerSurvives:
      return probe_listener_survives;
    default:
      return nullptr;
  }
}

bool reproduce_finding(FindingId id, Lab& lab) {
  switch (id) {
    case finding::kCloseListener:
      return reproduce_close_listener(lab);
    case finding::kBelowEdge:
      return reproduce_syscall_below_page(lab);
    case finding::kSeccompExemption:
      return reproduce_seccomp_exemption(lab);
    default:
      lab.expect(false, "no reproducer for known finding '" + std::string(to_string(id)) + "'");
      return false;
  }
}

}  // namespace stubfuzz
