#!/bin/bash
# Runs the whole test suite against the builds scripts/setup.sh prepared:
#   1. fuzzing: each libFuzzer target replays its committed corpus, then fuzzes for
#      FUZZ_SECONDS (default 45); any crash fails the run and leaves its input in build-fuzz/;
#   2. unit and end-to-end tests (CTest) on the Release build in build/;
#   3. the Debian package (scripts/package.sh), linted, installed, used and removed again;
#   4. a seconds-long smoke run of the benchmark harness (bench/), which only checks it works;
#   5. the same tests on an AddressSanitizer + UndefinedBehaviorSanitizer build in build-asan/;
#      any sanitizer report fails the run, even from a process whose exit status was not checked;
#   6. the code that runs on a second thread (the relay's copy threads) on a ThreadSanitizer
#      build in build-tsan/: the relay's unit tests and its end-to-end tests.
set -euo pipefail
cd "$(dirname "$0")/.."
ulimit -n 4096 2>/dev/null || true
fuzz_seconds=${FUZZ_SECONDS:-45}

echo "== fuzzing (clang, libFuzzer + ASan + UBSan), ${fuzz_seconds}s per target"
CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSOCKCAT_FUZZ=ON >/dev/null
cmake --build build-fuzz
ctest --test-dir build-fuzz --output-on-failure
for target in cli_fuzz parse_fuzz framing_fuzz tls_fuzz proxy_fuzz; do
  corpus=build-fuzz/corpus-${target%_fuzz}
  rm -rf "$corpus" && mkdir -p "$corpus"
  if ! build-fuzz/tests/fuzz/$target -max_total_time="$fuzz_seconds" -timeout=10 -rss_limit_mb=2048 \
       -print_final_stats=1 -artifact_prefix=build-fuzz/$target- \
       "$corpus" "tests/fuzz/corpus/${target%_fuzz}" >build-fuzz/$target.log 2>&1; then
    tail -40 build-fuzz/$target.log
    echo "test.sh: $target found a crash; its input is in build-fuzz/ (add it to tests/fuzz/corpus as a regression)"
    exit 1
  fi
  grep -E "stat::number_of_executed_units" build-fuzz/$target.log | sed "s/^/$target: /"
done

echo "== Release build"
ctest --test-dir build --output-on-failure -j2 --timeout 600

echo "== Debian package: scripts/package.sh, lintian, dpkg -i, the installed files used, dpkg -r"
scripts/package.sh >build/package.log 2>&1 || { tail -40 build/package.log; exit 1; }
SOCKCAT_DEB=$(tail -1 build/package.log) /usr/bin/python3 -m pytest -q -rP -p no:cacheprovider tests/e2e/test_package.py

echo "== benchmark harness smoke (seconds; no timed assertion)"
SOCKCAT_BIN=$PWD/build/sockcat bench/setup.sh --no-apt >/dev/null
SOCKCAT_BIN=$PWD/build/sockcat bench/run.sh --smoke >build/bench-smoke.log 2>&1 || { tail -30 build/bench-smoke.log; exit 1; }
tail -1 build/bench-smoke.log

echo "== AddressSanitizer + UndefinedBehaviorSanitizer build"
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSOCKCAT_SANITIZE=address,undefined >/dev/null
cmake --build build-asan
logs=$PWD/build-asan/sanitizer-logs
rm -rf "$logs" && mkdir -p "$logs"
status=0
ASAN_OPTIONS=log_path=$logs/asan:detect_leaks=1:abort_on_error=0 \
UBSAN_OPTIONS=log_path=$logs/ubsan:print_stacktrace=1 \
  ctest --test-dir build-asan --output-on-failure -j2 --timeout 900 || status=$?
if [ -n "$(ls -A "$logs")" ]; then
  for report in "$logs"/*; do echo "--- $report"; head -60 "$report"; done
  echo "test.sh: sanitizer reports above"
  exit 1
fi
[ "$status" -eq 0 ] || exit $status

echo "== ThreadSanitizer build: the relay's copy threads"
cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSOCKCAT_SANITIZE=thread >/dev/null
cmake --build build-tsan --target sockcat sockcat_unit_tests
logs=$PWD/build-tsan/sanitizer-logs
rm -rf "$logs" && mkdir -p "$logs"
export TSAN_OPTIONS=log_path=$logs/tsan:halt_on_error=0
build-tsan/tests/sockcat_unit_tests "relay*,ZeroCopy*"
(cd tests/e2e && SOCKCAT=$PWD/../../build-tsan/sockcat /usr/bin/python3 -m pytest -q -p no:cacheprovider \
   test_tcp_relay.py test_peer_eof.py test_exit_status.py test_integrity.py test_relay_options.py)
if [ -n "$(ls -A "$logs")" ]; then
  for report in "$logs"/*; do echo "--- $report"; head -60 "$report"; done
  echo "test.sh: ThreadSanitizer reports above"
  exit 1
fi
