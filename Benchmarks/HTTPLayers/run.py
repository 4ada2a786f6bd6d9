#!/usr/bin/env python3
"""Petrel's HTTP layer against Hummingbird 2 and AsyncHTTPClient: CPU-seconds per remote-write request.

Three configurations, each a server process and a load process on loopback (keep-alive, N connections, the same
1,000-series snappy bodies as `petrel bench remote-write --series 20000 --series-per-request 1000`):

  petrel server      <- petrel client     (the reference for both comparisons)
  hummingbird server <- petrel client     (server side: only the server differs)
  petrel server      <- ahc client        (client side: only the client differs)

The server's CPU time is read from /proc over the load's measured window (after a warm-up); the load reports its own
(getrusage). Runs rotate the order of the configurations; the summary gives the median of the runs.
Build first: swift build -c release --package-path Benchmarks/HTTPLayers

With --mallocs, one run of each configuration counts heap allocations per request instead (malloc_count.c,
preloaded; its counting costs CPU, so those runs give no CPU figures).
"""

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TICKS = os.sysconf("SC_CLK_TCK")
CONFIGURATIONS = [("petrel", "petrel"), ("hummingbird", "petrel"), ("petrel", "ahc")]


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def established(port):
    """Client connections established to the server's port (the load's side of each)."""
    out = subprocess.run(["ss", "-Htn", "state", "established", f"( dport = :{port} )"],
                         capture_output=True, text=True).stdout
    return len([line for line in out.splitlines() if line.strip()])


def malloc_count(process):
    """Asks a process running under malloc_count.so for its allocation count so far."""
    process.send_signal(signal.SIGUSR1)
    line = process.stderr.readline().split()
    assert line[:1] == ["mallocs"], line
    return int(line[1])


def measure(binary, server, client, connections, duration, warmup, series_per_request, preload=None):
    env = dict(os.environ, LD_PRELOAD=preload) if preload else None
    stderr = subprocess.PIPE if preload else None
    serving = subprocess.Popen([binary, "serve", server], stdout=subprocess.PIPE, stderr=stderr, text=True, env=env)
    try:
        line = serving.stdout.readline().split()
        assert line[:1] == ["listening"], line
        port = int(line[1])
        loading = subprocess.Popen(
            [binary, "load", client, "--url", f"http://127.0.0.1:{port}/api/v1/write", "--connections",
             str(connections), "--duration", str(duration), "--warmup", str(warmup),
             "--series-per-request", str(series_per_request)],
            stdout=subprocess.PIPE, stderr=stderr, text=True, env=env)
        assert loading.stdout.readline().strip() == "measuring"
        start = cpu_seconds(serving.pid)
        if preload:
            mallocs = (malloc_count(serving), malloc_count(loading))
        time.sleep(duration / 2)
        open_connections = established(port)
        result = json.loads(loading.stdout.readline())
        result["server_cpu_seconds"] = cpu_seconds(serving.pid) - start
        if preload:
            result["server_mallocs_per_request"] = (malloc_count(serving) - mallocs[0]) / result["requests"]
            result["client_mallocs_per_request"] = (malloc_count(loading) - mallocs[1]) / result["requests"]
        loading.wait(timeout=60)
    finally:
        serving.terminate()
        serving.wait(timeout=30)
    requests = result["requests"]
    result.update(
        server=server, client=client, connections=open_connections,
        requests_per_second=requests / result["seconds"],
        server_cpu_ms_per_request=1000 * result["server_cpu_seconds"] / requests,
        client_cpu_ms_per_request=1000 * result["client_cpu_seconds"] / requests)
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", default=os.path.join(HERE, ".build/release/http-layers"))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--duration", type=float, default=15)
    parser.add_argument("--warmup", type=float, default=3)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--series-per-request", type=int, default=1000)
    parser.add_argument("--out", help="write every run's figures here (JSON)")
    parser.add_argument("--mallocs", action="store_true", help="count heap allocations per request instead")
    args = parser.parse_args()

    if args.mallocs:
        preload = os.path.join(os.path.dirname(args.binary), "malloc_count.so")
        subprocess.run(["gcc", "-O2", "-shared", "-fPIC", "-o", preload, os.path.join(HERE, "malloc_count.c")],
                       check=True)
        print("| server | client | server mallocs per request | client mallocs per request |")
        print("| --- | --- | --- | --- |")
        for server, client in CONFIGURATIONS:
            result = measure(args.binary, server, client, args.connections, args.duration, args.warmup,
                             args.series_per_request, preload)
            print(f"| {server} | {client} | {result['server_mallocs_per_request']:.1f} | "
                  f"{result['client_mallocs_per_request']:.1f} |")
        return

    results = []
    for run in range(args.runs):
        order = CONFIGURATIONS[run % 3:] + CONFIGURATIONS[:run % 3]
        for server, client in order:
            result = measure(args.binary, server, client, args.connections, args.duration, args.warmup,
                             args.series_per_request)
            result["run"] = run
            results.append(result)
            print(f"run {run}: {server:>11} <- {client:<6} {result['requests_per_second']:8.0f} req/s  "
                  f"server {result['server_cpu_ms_per_request']:.4f} ms/req  "
                  f"client {result['client_cpu_ms_per_request']:.4f} ms/req  "
                  f"connections {result['connections']}  failures {result['failures']}", file=sys.stderr)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(results, f, indent=1)

    print("| server | client | requests/s | server CPU-s per 1,000 requests | client CPU-s per 1,000 requests |")
    print("| --- | --- | --- | --- | --- |")
    for server, client in CONFIGURATIONS:
        runs = [r for r in results if r["server"] == server and r["client"] == client]
        rate = statistics.median(r["requests_per_second"] for r in runs)
        server_cpu = statistics.median(r["server_cpu_ms_per_request"] for r in runs)
        client_cpu = statistics.median(r["client_cpu_ms_per_request"] for r in runs)
        print(f"| {server} | {client} | {rate:,.0f} | {server_cpu:.3f} | {client_cpu:.3f} |")


if __name__ == "__main__":
    main()
