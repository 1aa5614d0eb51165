#!/usr/bin/env bash
# Builds drl twice — optimised, and with AddressSanitizer + UndefinedBehaviorSanitizer — and runs
# every test (Check unit tests, PyTorch parity and interop scripts, CLI tests) in both; and the
# conv and model tests once more in a portable build (no -march=native, as the Docker image).
# Usage: scripts/test.sh            (from the repository root; assumes scripts/deps.sh ran)
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=$(nproc 2>/dev/null || echo 2)
export CTEST_OUTPUT_ON_FAILURE=1

echo "== release build =="
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$JOBS"
ctest --test-dir build -j"$JOBS" --timeout 900

echo "== portable build (-DDRL_NATIVE=OFF, as the Docker image builds) =="
# Without -march=native the Winograd gathers take their scalar paths (no AVX-512): the conv and
# model tests run on that code too.
cmake -S . -B build-portable -DCMAKE_BUILD_TYPE=Release -DDRL_NATIVE=OFF >/dev/null
cmake --build build-portable -j"$JOBS" --target test_conv test_model
ctest --test-dir build-portable -j"$JOBS" --timeout 900 -R '^(test_conv|test_model)$'

echo "== ASan + UBSan build =="
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DDRL_SANITIZE=ON >/dev/null
cmake --build build-asan -j"$JOBS"
# The sanitizer run covers the C unit tests and the CLI scripts; the PyTorch scripts only call the
# binary under test, and they already ran against the release build above.
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan -j"$JOBS" --timeout 1800 -E '^py_'
echo "all tests passed"
