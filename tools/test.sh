#!/usr/bin/env bash
# README command (2): install what is needed, build, and run every test — then the same code
# again under the sanitizers and the fuzzers (docs/security.md), stage by stage:
#   build, tests         the release build (./build) and the whole suite
#   asan-build, -tests   clang, ASan + UBSan (fatal), -O1 (./build-asan): the whole suite but the
#                        tests labelled not_under_asan or heavy (tests/CMakeLists.txt says why)
#   tsan-build, -tests   g++, TSan, -O1 (./build-tsan): only the test binaries of the tests
#                        labelled concurrent, and only those tests
#   fuzz-build, fuzz     libFuzzer + ASan + UBSan in the same tree (./build-asan, whose parser
#                        libraries carry libFuzzer's coverage hooks): the fuzz targets of
#                        tests/fuzz, each run from its seed corpus for MCX_FUZZ_SECONDS
#                        (default 20) seconds, as many at a time as there are cores
# Each stage prints its name and time; the script stops at the first stage that fails and ends
# with ctest's summary lines of every suite that ran. MCX_TEST_STAGES="build tests" (say) runs a
# subset.
set -euo pipefail
cd "$(dirname "$0")/.."

source tools/cmake-dir.sh
jobs=$(nproc)
# All stages by default: about 25 minutes on 2 cores from a clean clone, within CI's budget of 30
# (docs/security.md has the figures per stage).
stages=${MCX_TEST_STAGES:-"build tests asan-build asan-tests tsan-build tsan-tests fuzz-build fuzz"}
fuzz_seconds=${MCX_FUZZ_SECONDS:-20}
logs=build-logs
mkdir -p "$logs"
rm -f "$logs"/*.summary
timings=()

summaries() {
  for f in "$logs"/*.summary; do
    [ -e "$f" ] || continue
    echo "== $(basename "$f" .summary)"
    cat "$f"
  done
}

# run_stage NAME COMMAND...: runs the command, prints the stage's time; on failure prints what ran
# and exits non-zero.
run_stage() {
  local name=$1
  shift
  case " $stages " in *" $name "*) ;; *) return 0 ;; esac
  echo "=== stage: $name"
  local start=$SECONDS rc=0
  # In the background so that `set -e` holds inside the stage (it does not in an `||` list).
  "$@" &
  wait $! || rc=$?
  local took=$((SECONDS - start))
  timings+=("$(printf '%-11s %4d s  %s' "$name" "$took" "$([ $rc -eq 0 ] && echo ok || echo FAILED)")")
  echo "=== stage: $name: $([ $rc -eq 0 ] && echo ok || echo "FAILED (exit $rc)") in ${took} s"
  if [ $rc -ne 0 ]; then
    printf '%s\n' "${timings[@]}"
    summaries
    exit "$rc"
  fi
}

# ctest_suite NAME BUILD_DIR ARGS...: ctest, with its summary lines kept for the end.
ctest_suite() {
  local name=$1 dir=$2
  shift 2
  local rc=0
  ctest --test-dir "$dir" --output-on-failure -j"$jobs" --timeout 600 "$@" 2>&1 | tee "$logs/$name.log" || rc=$?
  grep -E '^[0-9]+% tests passed|^Total Test time|^The following tests|^[[:space:]]+[0-9]+ - ' "$logs/$name.log" \
    > "$logs/$name.summary" || true
  return "$rc"
}

sanitizer_configure() {  # DIR COMPILER SANITIZERS EXTRA_CMAKE_ARGS...
  local dir=$1 cxx=$2 san=$3
  shift 3
  fresh_cmake_dir "$dir"
  # A tree configured for another compiler (build-asan was g++ before) starts again: CMake
  # cannot switch compilers in place.
  if [ -f "$dir/CMakeCache.txt" ] && ! grep -q "^CMAKE_CXX_COMPILER:[A-Z]*=.*$cxx\$" "$dir/CMakeCache.txt"; then
    rm -rf "$dir"
  fi
  cmake -S . -B "$dir" -G Ninja -DCMAKE_CXX_COMPILER="$cxx" \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" \
    -DMCX_WERROR=ON -DMCX_SANITIZE="$san" -DMCX_BUILD_BENCH=OFF "$@" >/dev/null
}

build_normal() { bash tools/build.sh; }
tests_normal() { ctest_suite tests build; }

# ASan + UBSan with clang: everything but bench's micro-benchmarks (the test binaries, and
# mcx-kms, which the shell tests run). The same tree builds the fuzz targets (libFuzzer needs
# clang), so the libraries are compiled once for both; clang also compiles the Beast-heavy
# sources about a third faster than g++ does.
build_asan() {
  sanitizer_configure build-asan clang++-14 address,undefined -DMCX_BUILD_FUZZ=ON
  cmake --build build-asan -j"$jobs"
}
tests_asan() {
  # detect_leaks: a leak fails the test. The shell tests' mcx-kms inherits these too.
  ASAN_OPTIONS=detect_leaks=1 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest_suite asan-tests build-asan -LE "not_under_asan|heavy"
}

# TSan (g++): only the binaries that hold tests labelled `concurrent`.
build_tsan() {
  sanitizer_configure build-tsan g++ thread
  cmake --build build-tsan -j"$jobs" --target base_tests engine_tests api_tests capacity_tests
}
tests_tsan() {
  TSAN_OPTIONS="suppressions=$PWD/tests/sanitizers/tsan.supp:halt_on_error=1:second_deadlock_stack=1" \
    ctest_suite tsan-tests build-tsan -L concurrent
}

# The fuzz targets in the ASan tree: their libraries are built already (asan-build); on its own,
# this stage configures that tree first.
build_fuzz() {
  [ -f build-asan/build.ninja ] || sanitizer_configure build-asan clang++-14 address,undefined -DMCX_BUILD_FUZZ=ON
  cmake --build build-asan -j"$jobs" --target fuzzers
}

# Each fuzzer from its seeds (read-only) plus a scratch corpus of what it finds; a crash, leak,
# sanitizer report, timeout or out-of-memory fails the stage and leaves the input in
# build-asan/fuzz-runs/<name>/artifacts (add it to tests/fuzz/corpus/<name>/ with the fix).
fuzz_one() {
  local name=$1 out=build-asan/fuzz-runs/$1
  rm -rf "$out"
  mkdir -p "$out/corpus" "$out/artifacts"
  if build-asan/tests/fuzz/"$name"_fuzzer -max_total_time="$fuzz_seconds" -rss_limit_mb=2048 -timeout=20 \
       -max_len=8192 -print_final_stats=1 -artifact_prefix="$out/artifacts/" \
       "$out/corpus" tests/fuzz/corpus/"$name" > "$out/log" 2>&1; then
    echo "fuzz $name: ok, $(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$out/log" | grep -Eo '[0-9]+$') runs"
  else
    echo "fuzz $name: FAILED (log: $out/log)"
    tail -n 60 "$out/log"
    return 1
  fi
}
export -f fuzz_one
fuzz_all() {
  local names
  names=$(cd build-asan/tests/fuzz && ls -1 -- *_fuzzer | sed 's/_fuzzer$//')
  xargs -P "$jobs" -I{} bash -c 'fuzz_one "$@"' _ {} <<< "$names"
}
export fuzz_seconds

run_stage build build_normal
run_stage tests tests_normal
run_stage asan-build build_asan
run_stage asan-tests tests_asan
run_stage tsan-build build_tsan
run_stage tsan-tests tests_tsan
run_stage fuzz-build build_fuzz
run_stage fuzz fuzz_all

echo "=== stage times"
printf '%s\n' "${timings[@]}"
summaries
