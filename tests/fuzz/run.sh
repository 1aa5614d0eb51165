#!/usr/bin/env bash
# tests/fuzz/run.sh [SECONDS_PER_TARGET] — a bounded libFuzzer run of every fuzz target.
#
# Builds the fuzz tree with clang (ASan + UBSan + libFuzzer, see tests/fuzz/fuzz.cmake) in
# $DRL_FUZZ_BUILD (default /tmp/drl-fuzz-build), then runs each target for SECONDS_PER_TARGET
# (default 20) on a scratch copy of its seeds (tests/fuzz/corpus/<target>/ plus the regression
# inputs in tests/fuzz/regress/<target>/), and prints the executions per target. Any crash, leak,
# timeout or out-of-memory fails the run; its input is kept in $DRL_FUZZ_BUILD/crashes/<target>/
# and belongs, once the bug is fixed, in tests/fuzz/regress/<target>/ (test_fuzz_regress replays
# it in every build). Exit 0 all clean, 1 a finding or a build failure, 77 clang is missing.
set -uo pipefail

SECS=${1:-20}
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
B=${DRL_FUZZ_BUILD:-/tmp/drl-fuzz-build}
TARGETS="png safetensors idx npy base64 codecs upload"

case $SECS in '' | *[!0-9]*) echo "usage: $0 [SECONDS_PER_TARGET]" >&2; exit 2 ;; esac

skip() {
  echo "fuzz: SKIP: $1 (scripts/deps.sh installs clang libclang-rt-dev libomp-dev)"
  exit 77
}
command -v clang >/dev/null 2>&1 || skip "clang is not installed"
# clang alone is not enough: libFuzzer and the sanitizer runtimes, and OpenMP (the build needs
# it), are separate packages.
probe=$(mktemp -d)
printf '#include <omp.h>\nint LLVMFuzzerTestOneInput(const char *d, unsigned long n) {\n'\
'  (void)d; (void)n; return omp_get_max_threads() < 0; }\n' >"$probe/p.c"
clang -fsanitize=fuzzer,address,undefined -fopenmp "$probe/p.c" -o "$probe/p" >"$probe/log" 2>&1
probe_rc=$?
rm -rf "$probe"
[ $probe_rc -eq 0 ] || skip "clang cannot build a libFuzzer + ASan + OpenMP program"

# Inputs longer than this are cut; uploads (tars) get room for a few entries.
max_len() {
  case $1 in
    upload) echo 1048576 ;;
    *) echo 65536 ;;
  esac
}

mkdir -p "$B"
echo "fuzz: building in $B"
if ! cmake -S "$SRC" -B "$B" -DCMAKE_C_COMPILER=clang -DDRL_FUZZ=ON -DCMAKE_BUILD_TYPE=Release \
     >"$B/configure.log" 2>&1; then
  echo "fuzz: configure failed:"; tail -n 30 "$B/configure.log"; exit 1
fi
if ! cmake --build "$B" --target fuzz -j "$(nproc)" >"$B/build.log" 2>&1; then
  echo "fuzz: build failed:"; grep -E "error|Error" "$B/build.log" | head -n 30; exit 1
fi

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

failed=""
printf "fuzz: %s s per target\n" "$SECS"
for t in $TARGETS; do
  work="$B/run/$t" crashes="$B/crashes/$t"
  rm -rf "$work"
  mkdir -p "$work/corpus" "$crashes"
  cp "$SRC/tests/fuzz/corpus/$t/"* "$work/corpus/" 2>/dev/null
  if [ -d "$SRC/tests/fuzz/regress/$t" ]; then
    cp "$SRC/tests/fuzz/regress/$t/"* "$work/corpus/" 2>/dev/null
  fi
  dict=()
  if [ -f "$SRC/tests/fuzz/dict/$t.dict" ]; then dict=(-dict="$SRC/tests/fuzz/dict/$t.dict"); fi
  "$B/fuzz_$t" "${dict[@]}" -max_total_time="$SECS" -max_len="$(max_len "$t")" -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$crashes/" "$work/corpus" \
    >"$work/log" 2>&1
  rc=$?
  execs=$(awk '/stat::number_of_executed_units:/ {print $2}' "$work/log" | tail -n 1)
  cov=$(grep -oE 'cov: [0-9]+' "$work/log" | tail -n 1)
  if [ $rc -eq 0 ]; then
    printf "  %-12s ok      %10s execs  %s\n" "$t" "${execs:-?}" "$cov"
  else
    printf "  %-12s FAILED  %10s execs  (exit %d; log %s)\n" "$t" "${execs:-?}" "$rc" "$work/log"
    grep -E "ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error|check failed|SUMMARY" \
      "$work/log" | head -n 5 | sed 's/^/      /'
    for f in "$crashes"/*; do [ -f "$f" ] && echo "      kept: $f"; done
    failed="$failed $t"
  fi
done

if [ -n "$failed" ]; then
  echo "fuzz: FAILED:$failed (fix, then copy the kept inputs into tests/fuzz/regress/<target>/)"
  exit 1
fi
echo "fuzz: all targets clean"
