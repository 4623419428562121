// The campaign library: the engines' command lines, written once for `fuzz`
// and `matrix`, and the supervisor's bound on a process that never ends.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "campaign/engine.h"
#include "campaign/found.h"

namespace stubfuzz::campaign {
namespace {

bool has(const std::vector<std::string>& argv, const std::string& arg) {
  return std::find(argv.begin(), argv.end(), arg) != argv.end();
}

EngineJob job(Engine e) {
  return {.engine = e,
          .target = "/t/fuzz_stub_syscalls",
          .time = std::chrono::seconds(30),
          .jobs = 2,
          .dir = "/o",
          .corpus = "/o/corpus",
          .artifacts = "/o/crashes",
          .seeds = {"/s"},
          .dict = "/o/filter.dict"};
}

TEST(EngineCommands, LibFuzzerGetsTimeWorkersDictionaryAndCorpusBeforeSeeds) {
  const auto cmds = engine_commands(job(Engine::kLibFuzzer));
  ASSERT_EQ(cmds.size(), 1u);
  const auto& argv = cmds[0];
  EXPECT_EQ(argv.front(), "/t/fuzz_stub_syscalls");
  for (const char* a : {"-max_total_time=30", "-artifact_prefix=/o/crashes/", "-jobs=2",
                        "-workers=2", "-dict=/o/filter.dict", "-detect_leaks=0", "-reload=10"})
    EXPECT_TRUE(has(argv, a)) << a;
  // libFuzzer writes new inputs into its first directory: the corpus, not a seed.
  const auto corpus = std::find(argv.begin(), argv.end(), "/o/corpus");
  const auto seed = std::find(argv.begin(), argv.end(), "/s");
  ASSERT_NE(corpus, argv.end());
  EXPECT_LT(corpus, seed);
}

TEST(EngineCommands, AflRunsOneMainAndSecondariesWithTheDictionary) {
  const auto cmds = engine_commands(job(Engine::kAfl));
  ASSERT_EQ(cmds.size(), 2u);
  EXPECT_TRUE(has(cmds[0], "-M"));
  EXPECT_TRUE(has(cmds[1], "-S"));
  EXPECT_TRUE(has(cmds[0], "-c")) << "cmplog on the main instance";
  for (const auto& argv : cmds) {
    EXPECT_EQ(argv.front(), "afl-fuzz");
    EXPECT_TRUE(has(argv, "-x") && has(argv, "/o/filter.dict"));
    EXPECT_EQ(argv.back(), "/t/fuzz_stub_syscalls");
  }
  const auto env = engine_env(job(Engine::kAfl));
  EXPECT_TRUE(
      std::any_of(env.begin(), env.end(), [](auto& kv) { return kv.first == "AFL_NO_UI"; }));
}

TEST(Supervisor, KillsAProcessThatOutlivesItsBoundAndLeavesNoChild) {
  Supervisor s;
  auto pid = s.launch({"sleep", "600"}, {}, "/", "/dev/null", std::chrono::seconds(0));
  ASSERT_TRUE(pid.ok()) << pid.error().message;
  const auto start = std::chrono::steady_clock::now();
  while (s.poll() > 0 && std::chrono::steady_clock::now() - start < std::chrono::seconds(10))
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_FALSE(s.running(*pid));
  EXPECT_EQ(::kill(*pid, 0), -1) << "the process is still there (or a zombie)";
}

TEST(Supervisor, EndsWhatStillRunsWhenItGoes) {
  pid_t pid = -1;
  {
    Supervisor s;
    auto p = s.launch({"sleep", "600"}, {}, "/", "/dev/null", std::chrono::seconds(600));
    ASSERT_TRUE(p.ok());
    pid = *p;
    EXPECT_EQ(s.poll(), 1u);
  }
  EXPECT_EQ(::kill(pid, 0), -1);
}

TEST(FoundFile, HeaderSecondsRoundTripAndAMissingHeaderIsNone) {
  char dir[] = "/tmp/stubfuzz-found-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string path = found_file(dir, finding::kCloseListener);
  {
    FILE* f = fopen(path.c_str(), "w");
    ASSERT_NE(f, nullptr);
    fputs((found_header(12.5) + "stub close(1)\n").c_str(), f);
    fclose(f);
  }
  ASSERT_TRUE(found_seconds(path).has_value());
  EXPECT_DOUBLE_EQ(*found_seconds(path), 12.5);
  EXPECT_FALSE(found_seconds(std::string(dir) + "/absent.txt").has_value());
  unlink(path.c_str());
  rmdir(dir);
}

}  // namespace
}  // namespace stubfuzz::campaign
