#!/usr/bin/env bash
# Runs every fuzz target of Fuzz/ for a number of seconds each on its corpus (Fuzz/Corpus/<target>/), printing
# libFuzzer's "Done … runs" line per target; exits non-zero if any target crashed, leaked or timed out.
# Usage: scripts/fuzz.sh SECONDS [TARGET...]   (the binary is built by `make fuzz`)
set -uo pipefail
cd "$(dirname "$0")/.."
seconds=${1:?usage: scripts/fuzz.sh SECONDS [TARGET...]}
shift
binary=.build-fuzz/release/PetrelFuzz
work=.build-fuzz
mkdir -p "$work/artifacts"
if [ $# -eq 0 ]; then
    set -- $(ls Fuzz/Corpus)
fi
failed=()
for target in "$@"; do
    mkdir -p "$work/corpus/$target"
    log="$work/$target.log"
    # New inputs go to the work corpus; the committed seeds are read only. An input taking over 10 s, or a process
    # over 2 GiB, is a finding.
    # Swift's own backtracer would symbolicate each crash for up to 30 s; libFuzzer and ASan report it already.
    SWIFT_BACKTRACE=enable=no PETREL_FUZZ_TARGET=$target "$binary" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=0 -artifact_prefix="$work/artifacts/$target-" \
        "$work/corpus/$target" "Fuzz/Corpus/$target" >"$log" 2>&1
    status=$?
    done_line=$(grep -E '^Done [0-9]+ runs' "$log" | tail -1)
    printf '%-24s %s\n' "$target" "${done_line:-no Done line (exit $status)}"
    if [ $status -ne 0 ]; then
        failed+=("$target")
        grep -E 'ERROR|SUMMARY|Test unit written' "$log" | head -5
    fi
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz targets that failed: ${failed[*]} (logs and inputs in $work/)"
    exit 1
fi
