// The stub factory: fresh stubs forked from a template that has already been
// executed, initialised and put in the sandbox, instead of a clone and an
// execveat each (issue: fuzzing at 10,000 programs a second). The template
// is the stub image in STUB_MODE_TEMPLATE (stub_abi.h), spawned the seed's
// way; each child drops every fd but its own control socket, maps its own
// data pages, starts its second thread and installs the profile's safety
// net and filter with the profile's flags, so the listener is still fd 1 and
// the monitor still pulls it with pidfd_getfd. The children are the
// monitor's own (CLONE_PARENT), reaped with their exit status as any stub.
// `check` keeps the seed's path; docs/stub.md lists what differs.
#pragma once

#include <mutex>
#include <optional>

#include "stub/stub.h"

namespace stubfuzz {

class StubFactory {
 public:
  // `config` is every stub's: its layout and sandbox are the template's.
  explicit StubFactory(StubConfig config) : config_(std::move(config)) {}

  // A fresh stub; the template is started on first use, and again if it
  // has gone.
  Result<Stub> make();
  Result<Stub> make(const StubConfig& config);

  const StubConfig& config() const { return config_; }
  // The template's pid, or -1 (tests).
  pid_t template_pid() const { return template_ ? template_->pid() : -1; }

 private:
  Status start_template();

  const StubConfig config_;
  std::optional<Stub> template_;
};

// Whether the factory can make stubs of `config`: a template that is pid 1
// of its own pid namespace could not fork its children with CLONE_PARENT.
bool factory_supports(const StubConfig& config);

}  // namespace stubfuzz
