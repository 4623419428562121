// What a fuzz worker has seen, written to a file every second so that
// `stubfuzz fuzz` can show a live status line and a summary: executions,
// filter instructions covered, verdict-matrix cells seen, known findings.
#pragma once

#include <linux/filter.h>

#include <bitset>
#include <chrono>
#include <cstdint>
#include <map>
#include <set>
#include <string>

#include "base/result.h"
#include "fuzz/executor.h"
#include "fuzz/oracle.h"

namespace stubfuzz::fuzz {

struct Stats {
  uint64_t execs = 0;
  uint64_t stubs = 0;   // fresh stubs used
  uint64_t resets = 0;  // stubs reset and reused (Stub::reset)
  double seconds = 0;
  size_t filter_len = 0;
  std::set<uint16_t> filter_pcs;  // instructions that ran
  // Each conditional jump's two outcomes: (pc << 1) | taken, of
  // branch_total = 2 × the filter's conditional jumps.
  size_t branch_total = 0;
  std::set<uint32_t> branch_sides;
  std::set<uint32_t> cells;               // (abi, site, nr) seen with an outcome
  std::map<std::string, uint64_t> known;  // known finding -> hits
  // Per program class (fuzz/executor.h): programs, and the executor's time.
  std::map<std::string, uint64_t> class_programs;
  std::map<std::string, uint64_t> class_ns;
  // What add() has put in filter_pcs and branch_sides already: every record
  // runs a dozen instructions that are nearly always there, and the sets'
  // lookups were 2% of a campaign's CPU.
  std::bitset<BPF_MAXINSNS> pcs_added;
  std::bitset<2 * BPF_MAXINSNS> sides_added;

  void add(const Program& p, const Execution& ex, const Judgement& j, uint64_t exec_ns = 0);
  void merge(const Stats& other);
  std::string to_json() const;
  static Result<Stats> from_json(const std::string& text);
};

// Writes a worker's stats under `dir` (the campaign's STUBFUZZ_STATS_DIR;
// nothing if empty) at most once a second, and the first program that hit
// each known finding beside them.
class StatsWriter {
 public:
  explicit StatsWriter(std::string dir);
  // What coverage is measured against: the filter under test.
  void set_filter(const filter::Program& filter);
  // `exec_ns`: the executor's time for the program.
  // `stubs`, `resets`: the executor's counts so far.
  void record(const Program& p, const Execution& ex, const Judgement& j, uint64_t stubs,
              uint64_t resets, uint64_t exec_ns = 0);
  // The engine may close the target's stdout and stderr (-close_fd_mask):
  // a violation's report also goes to <dir>/violation-<pid>.txt.
  void violation(const std::string& report);

 private:
  void flush();
  std::string dir_;
  Stats stats_;
  std::chrono::steady_clock::time_point start_, last_flush_;
};

// 2 × the conditional jumps of `filter`: the branch sides a campaign can take.
size_t branch_sides_of(const filter::Program& filter);

// Every worker's stats in `dir`, merged.
Stats read_stats_dir(const std::string& dir);

}  // namespace stubfuzz::fuzz
