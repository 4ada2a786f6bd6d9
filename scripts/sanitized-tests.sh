#!/usr/bin/env bash
# Runs the test suite built with a sanitizer (`make test-tsan`, `make test-asan`).
# Usage: scripts/sanitized-tests.sh thread|address BUILD_DIR
# Reports go to BUILD_DIR/reports/<sanitizer>.<pid> (every process the tests start inherits the options); the run
# fails when the suite fails or any report was written, and prints the first lines of each report.
set -uo pipefail
cd "$(dirname "$0")/.."
sanitizer=${1:?usage: scripts/sanitized-tests.sh thread|address BUILD_DIR}
scratch=${2:?usage: scripts/sanitized-tests.sh thread|address BUILD_DIR}
reports="$PWD/$scratch/reports"
rm -rf "$reports"
mkdir -p "$reports"
case "$sanitizer" in
thread) export TSAN_OPTIONS="log_path=$reports/tsan halt_on_error=0" ;;
address) export ASAN_OPTIONS="log_path=$reports/asan" ;;
*)
    echo "unknown sanitizer: $sanitizer" >&2
    exit 2
    ;;
esac
# Swift's own backtracer would symbolicate each crash for up to 30 s; the sanitizer reports it already.
export SWIFT_BACKTRACE=enable=no
swift test --sanitize="$sanitizer" --scratch-path "$scratch" --experimental-maximum-parallelization-width 8
status=$?
found=("$reports"/*)
if [ -e "${found[0]}" ]; then
    echo "sanitizer reports (${#found[@]}) in $reports:"
    for report in "${found[@]}"; do
        echo "== $report"
        head -40 "$report"
    done
    exit 1
fi
exit $status
