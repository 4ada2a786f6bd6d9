#!/usr/bin/env python3
"""Keeps the malloc counts of the thresholds `benchmark thresholds update` wrote, under the names `thresholds check` reads.

package-benchmark 1.38 writes `<target>.<name>.p90.json` with spaces and slashes in the name turned into underscores,
but looks for the name as it is when checking; it would also hold wall-clock time and throughput to the exact figure,
and cannot read a custom metric (thread CPU time) back. Usage: scripts/bench-thresholds.py DIR TARGET < names
(the benchmark names, one a line, as `benchmark list` prints them).
"""
import json
import os
import sys

directory, target = sys.argv[1], sys.argv[2]
for name in filter(None, (line.strip() for line in sys.stdin)):
    written = os.path.join(directory, f"{target}.{name.replace('/', '_').replace(' ', '_')}.p90.json")
    with open(written) as f:
        metrics = json.load(f)
    os.remove(written)
    with open(os.path.join(directory, f"{target}.{name}.p90.json"), "w") as f:
        json.dump({"mallocCountTotal": metrics["mallocCountTotal"]}, f, indent=2)
        f.write("\n")
