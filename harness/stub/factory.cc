#include "stub/factory.h"

namespace stubfuzz {

bool factory_supports(const StubConfig& config) {
  // UML's own stub is spawned as UML does; it has no template mode.
  return config.spawn == SpawnMethod::kUmlClone && !has_own_pid_ns(config.sandbox) && !config.uml;
}

Status StubFactory::start_template() {
  StubConfig t = config_;
  t.factory_template = true;
  // The template installs the safety net only (its children inherit it);
  // it has no listener and no second thread.
  t.pull_listener = false;
  t.second_thread = false;
  t.phases = nullptr;
  auto s = Stub::spawn(t);
  if (!s) return Error{"stub factory: starting the template: " + s.error().message, s.error().err};
  template_.emplace(std::move(*s));
  return {};
}

Result<Stub> StubFactory::make() { return make(config_); }

Result<Stub> StubFactory::make(const StubConfig& config) {
  if (!factory_supports(config))
    return Error{"the stub factory needs stubs that are not pid 1 of their own pid namespace",
                 EINVAL};
  if (!filter::same_program(config.safety_net, config_.safety_net) ||
      config.layout.stub_start != config_.layout.stub_start)
    return Error{"a factory stub must have its template's layout and safety net", EINVAL};
  for (int attempt = 0; attempt < 2; attempt++) {
    if (!template_ || !template_->usable()) {
      template_.reset();
      if (auto s = start_template(); !s) return s.error();
    }
    auto stub = Stub::fork_from(*template_, config);
    // A template that has gone is started again, once; any other failure
    // is the stub's own.
    if (stub || stub.error().err != EPIPE) return stub;
    template_.reset();
  }
  return Error{"stub factory: the template keeps going away", EPIPE};
}

}  // namespace stubfuzz
