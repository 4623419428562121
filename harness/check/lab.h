// The bench on which directed probes run: spawns real stubs of one profile,
// runs records in them, and keeps the evidence (how many stubs and syscalls,
// and every expectation that failed, as a sentence).
#pragma once

#include <initializer_list>
#include <span>
#include <string>
#include <vector>

#include "monitor/batch.h"
#include "profile/profile.h"
#include "stub/record.h"
#include "stub/stub.h"

namespace stubfuzz {

class Lab {
 public:
  explicit Lab(const Profile& profile) : profile_(profile) {}

  const Profile& profile() const { return profile_; }
  // A fresh stub of the profile; a spawn failure is recorded and returned.
  Result<Stub> spawn();
  Result<BatchOutcome> run(Stub& stub, std::span<const stub_record> records);
  Result<BatchOutcome> run(Stub& stub, std::initializer_list<stub_record> records) {
    return run(stub, std::span<const stub_record>(records.begin(), records.size()));
  }

  // Records `failure` unless `ok`; returns ok.
  bool expect(bool ok, const std::string& failure);
  // The record at `i` trapped with SIGSYS for `nr` of `arch`, reported at
  // `call_addr`, and did not execute.
  bool expect_trapped(const BatchOutcome& o, uint32_t i, uint32_t nr, uint32_t arch,
                      uint64_t call_addr, const std::string& what);
  // The record at `i` was the last one: the kernel killed the stub with SIGSYS.
  bool expect_killed(const BatchOutcome& o, uint32_t i, const std::string& what);
  // The same for `rec`, unless this kernel lacks its ABI: then the stub dies
  // of the fault that comes before seccomp, and the evidence says so.
  bool expect_killed(const BatchOutcome& o, uint32_t i, const stub_record& rec,
                     const std::string& what);
  // A fact of the kernel that shaped the evidence ("i386 ABI absent: ...").
  void note(const std::string& why);
  bool expect_returned(const BatchOutcome& o, uint32_t i, const std::string& what);

  int stubs() const { return stubs_; }
  int syscalls() const { return syscalls_; }
  const std::vector<std::string>& failures() const { return failures_; }
  const std::vector<std::string>& notes() const { return notes_; }

 private:
  const Profile& profile_;
  int stubs_ = 0;
  int syscalls_ = 0;
  std::vector<std::string> failures_;
  std::vector<std::string> notes_;
};

}  // namespace stubfuzz
