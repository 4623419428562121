#!/bin/bash -eu
# OSS-Fuzz / ClusterFuzzLite build: every fuzz target with the engine and
# sanitizer flags the infrastructure sets ($CC $CXX $CFLAGS $CXXFLAGS
# $LIB_FUZZING_ENGINE), plus its dictionary, options and seed corpus in $OUT.
# The stub itself is never instrumented (stub/CMakeLists.txt).
src=${SRC:-$(cd "$(dirname "$0")/.." && pwd)}/stubfuzz
[ -d "$src" ] || src=$(cd "$(dirname "$0")/.." && pwd)
build=${WORK:-/tmp}/stubfuzz-build

cmake -S "$src" -B "$build" -G Ninja \
  -DCMAKE_C_COMPILER="$CC" -DCMAKE_CXX_COMPILER="$CXX" \
  -DCMAKE_C_FLAGS="$CFLAGS" -DCMAKE_CXX_FLAGS="$CXXFLAGS" \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DSTUBFUZZ_TESTS=OFF -DSTUBFUZZ_FUZZERS=ON \
  -DSTUBFUZZ_FUZZING_ENGINE="$LIB_FUZZING_ENGINE"
cmake --build "$build" --target all

for bin in "$build"/fuzzers/fuzz_*; do
  [ -x "$bin" ] && [ -f "$bin" ] || continue
  name=$(basename "$bin")
  cp "$bin" "$OUT/"
  [ -f "$src/fuzzers/$name.options" ] && cp "$src/fuzzers/$name.options" "$OUT/"
  dict=$(sed -n 's/^dict *= *//p' "$src/fuzzers/$name.options" 2>/dev/null || true)
  [ -n "$dict" ] && cp "$src/fuzzers/$dict" "$OUT/"
  if [ -d "$src/corpus/$name" ]; then
    (cd "$src/corpus/$name" && zip -q -r "$OUT/${name}_seed_corpus.zip" .)
  fi
done
