// The filter builder's labels: they resolve to the offsets the kernel
// counts, and a label that cannot be reached is the caller's bug.
#include <gtest/gtest.h>
#include <linux/seccomp.h>

#include <stdexcept>

#include "filter/program.h"

namespace stubfuzz::filter {
namespace {

TEST(BuilderLabels, ResolveToTheKernelsRelativeOffsets) {
  const Program p = Builder()
                        .load_abs(0)
                        .jeq(1, "allow", 0)  // 1: true side skips 2 instructions
                        .jeq(2, 0, "kill")   // 2: false side skips 1
                        .ret(SECCOMP_RET_TRAP)
                        .at("kill")
                        .ret(SECCOMP_RET_KILL_PROCESS)
                        .at("allow")
                        .ret(SECCOMP_RET_ALLOW)
                        .build();
  ASSERT_EQ(p.size(), 6u);
  EXPECT_EQ(p[1].jt, 3);
  EXPECT_EQ(p[1].jf, 0);
  EXPECT_EQ(p[2].jt, 0);
  EXPECT_EQ(p[2].jf, 1);
}

TEST(BuilderLabels, AMissingOrBackwardLabelIsALogicError) {
  EXPECT_THROW(Builder().jeq(1, "nowhere", 0).ret(0).build(), std::logic_error);
  EXPECT_THROW(Builder().at("back").ret(0).jeq(1, "back", 0).ret(0).build(), std::logic_error);
  Builder far;
  far.jeq(1, "far", 0);
  for (int i = 0; i < 300; i++) far.ret(0);
  far.at("far").ret(0);
  EXPECT_THROW(far.build(), std::logic_error);
}

}  // namespace
}  // namespace stubfuzz::filter
