// Pieces more than one test file needs.
#pragma once

#include <gtest/gtest.h>

#include "check/check.h"
#include "profile/profile.h"
#include "stub/stub.h"

namespace stubfuzz::testing_support {

inline StubConfig listener_config() { return (*find_profile("listener"))->stub_config(); }

// A fixture whose tests must leave this process with the fds and child
// processes (live or zombie) it had before. The process-wide pieces spawn
// makes once (stub image, sandbox namespaces) are made before counting.
class LeakFree : public testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(Stub::prepare(listener_config()).ok());
    before_ = count_resources();
  }
  void TearDown() override {
    const ResourceCount after = count_resources();
    EXPECT_EQ(after.fds, before_.fds) << "leaked fds";
    EXPECT_EQ(after.children, before_.children) << "leaked processes or zombies";
  }
  ResourceCount before_;
};

}  // namespace stubfuzz::testing_support
