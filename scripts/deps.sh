#!/usr/bin/env bash
# Installs the Debian 12 packages drl needs to build, run and test. Idempotent: packages already
# present are skipped, and `apt-get update` runs at most once per invocation (only when something
# is missing). Run as root (or with sudo available).
set -euo pipefail

BUILD_PKGS="build-essential cmake pkg-config libmicrohttpd-dev libjansson-dev libopenblas-dev
            libpng-dev zlib1g-dev libarchive-dev check curl ca-certificates"
# clang + its sanitizer/libFuzzer runtimes (only recommended by clang, so named here) + libomp for
# OpenMP under clang: the fuzz build of tests/fuzz/run.sh.
TEST_PKGS="python3 python3-numpy python3-torch python3-sklearn python3-yaml dataset-fashion-mnist haproxy
           clang libclang-rt-dev libomp-dev"

want="$BUILD_PKGS"
case "${1:-all}" in
  build) ;;
  all|test) want="$BUILD_PKGS $TEST_PKGS" ;;
  *) echo "usage: $0 [build|test|all]" >&2; exit 2 ;;
esac

missing=""
for p in $want; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing="$missing $p"
  fi
done

if [ -z "$missing" ]; then
  echo "deps: all packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
