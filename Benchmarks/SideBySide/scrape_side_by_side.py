#!/usr/bin/env python3
"""Petrel and vmagent side by side, scraping the same 1,000 targets of 1,000 series each.

One nginx serves one exposition file (1,000 series: counters, gauges and a histogram, node-exporter's shape, ~80 KiB)
on 1,000 loopback ports, so each port is its own target (`instance` differs), and answers remote-write POSTs on one
more port with 204, a sink that discards. nginx sends a static file from the page cache and so is never the
bottleneck (it uses a few percent of a core at the default load). Each agent in turn scrapes every target at the same
interval and remote-writes what it scraped into that sink:

- Petrel: `prometheus_scrape` (one job, `static_configs` of the 1,000 targets) → `prometheus_remote_write` sink;
- vmagent (Debian's `victoria-metrics` package): `-promscrape.config` with the same job → `-remoteWrite.url`.

For each run, after a warm-up of two intervals: samples scraped per CPU-second over the measured window (the agent's
own count of scraped samples — Petrel's `petrel_component_received_events_total` of the source, vmagent's
`vm_promscrape_scraped_samples_sum` — divided by its utime+stime from /proc/PID/stat over the same window), and peak
RSS (VmHWM) at the end. Runs alternate which agent goes first. Prints a Markdown table of medians and writes every
figure as JSON to --out.

Usage (from the repository root, after `swift build -c release --product petrel`):
    Benchmarks/SideBySide/scrape_side_by_side.py --petrel .build/release/petrel [--runs 3] [--targets 1000] \\
        [--series 1000] [--interval 5] [--window 60] [--out results-scrape.json]
"""
import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from logs_side_by_side import cpu_seconds, peak_rss_mib  # noqa: E402


def exposition(series):
    """`series` samples in node-exporter's shape: HELP and TYPE lines, a few labels, counters, gauges, a histogram."""
    lines = []
    buckets = ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "+Inf"]
    per_histogram = len(buckets) + 2
    histograms = series // 4 // per_histogram
    written = 0
    lines += ["# HELP bench_request_duration_seconds Request latency.",
              "# TYPE bench_request_duration_seconds histogram"]
    for h in range(histograms):
        labels = f'handler="/api/v1/h{h}",method="GET"'
        for i, bucket in enumerate(buckets):
            lines.append(f'bench_request_duration_seconds_bucket{{{labels},le="{bucket}"}} {i * 17 + h}')
        lines.append(f"bench_request_duration_seconds_sum{{{labels}}} {h * 3.25 + 0.5}")
        lines.append(f"bench_request_duration_seconds_count{{{labels}}} {len(buckets) * 17 + h}")
        written += per_histogram
    family = 0
    while written < series:
        kind = "counter" if family % 2 == 0 else "gauge"
        name = f"bench_node_metric_{family}" + ("_total" if kind == "counter" else "")
        lines += [f"# HELP {name} A node metric of the benchmark.", f"# TYPE {name} {kind}"]
        for i in range(min(100, series - written)):
            value = 1234567.0 + i * 13.5 + family if kind == "counter" else (i % 97) / 7
            lines.append(f'{name}{{cpu="{i % 16}",device="sd{chr(97 + i % 26)}{i}",mode="user"}} {value}')
            written += 1
        family += 1
    return "\n".join(lines) + "\n"


def free_ports(count):
    """`count` distinct free loopback ports, held until all are found."""
    probes, ports = [], []
    try:
        while len(ports) < count:
            probe = socket.socket()
            probe.bind(("127.0.0.1", 0))
            probes.append(probe)
            ports.append(probe.getsockname()[1])
    finally:
        for probe in probes:
            probe.close()
    return ports


def get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.read().decode()


def wait_until(url, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            get(url)
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not answer within {timeout}s")


def start_nginx(work, ports, sink, series):
    root = os.path.join(work, "www")
    os.makedirs(root, exist_ok=True)
    # Run as root, nginx's workers are `nobody`: the file and the directories above it must be theirs to read.
    os.chmod(work, 0o755)
    os.chmod(root, 0o755)
    with open(os.path.join(root, "metrics"), "w") as f:
        f.write(exposition(series))
    listens = "\n".join(f"    listen 127.0.0.1:{port} reuseport backlog=4096;" for port in ports)
    config = os.path.join(work, "nginx.conf")
    with open(config, "w") as f:
        f.write(f"""worker_processes 1;
worker_rlimit_nofile 16384;
pid {work}/nginx.pid;
error_log {work}/nginx-error.log warn;
events {{ worker_connections 8192; }}
http {{
  access_log off;
  client_body_temp_path {work}/body;
  default_type text/plain;
  keepalive_requests 1000000;
  keepalive_timeout 300s;
  server {{
{listens}
    root {root};
    location = /metrics {{ types {{ }} default_type "text/plain; version=0.0.4"; }}
  }}
  server {{
    listen 127.0.0.1:{sink};
    client_max_body_size 512m;
    location / {{ return 204; }}
  }}
}}
""")
    process = subprocess.Popen(["nginx", "-p", work, "-c", config, "-g", "daemon off;"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(f"http://127.0.0.1:{ports[0]}/metrics")
        wait_until(f"http://127.0.0.1:{ports[-1]}/metrics")
    except BaseException:
        process.kill()
        process.wait()
        raise
    return process


def nginx_cpu_seconds(master):
    """The CPU-seconds of nginx's master and its workers (the workers do the serving)."""
    with open(f"/proc/{master}/task/{master}/children") as f:
        workers = [int(pid) for pid in f.read().split()]
    return cpu_seconds(master) + sum(cpu_seconds(pid) for pid in workers)


def petrel_agent(args, work, targets, sink):
    api = free_ports(1)[0]
    config = os.path.join(work, "petrel.yaml")
    with open(config, "w") as f:
        f.write(f"""data_dir: {work}/data
api: {{ address: "127.0.0.1:{api}" }}
sources:
  scrape:
    type: prometheus_scrape
    scrape_interval: {args.interval}s
    scrape_timeout: {args.interval}s
    scrape_configs:
      - job_name: bench
        static_configs: [{{ targets: {json.dumps(targets)} }}]
sinks:
""" + (f"""  out:
    type: prometheus_remote_write
    inputs: [scrape]
    endpoints: ["http://127.0.0.1:{sink}/api/v1/write"]
""" if args.petrel_sink == "remote_write" else """  out: { type: blackhole, inputs: [scrape] }
"""))
    command = [args.petrel, "run", "--config", config, "--log-level", "warning"]

    def scraped():
        for line in get(f"http://127.0.0.1:{api}/metrics").splitlines():
            if line.startswith('petrel_component_received_events_total{component_id="scrape"'):
                return int(float(line.split()[-1]))
        return 0
    return command, f"http://127.0.0.1:{api}/ready", scraped


def vmagent_agent(args, work, targets, sink):
    port = free_ports(1)[0]
    config = os.path.join(work, "scrape.yml")
    with open(config, "w") as f:
        json.dump({"scrape_configs": [{"job_name": "bench", "scrape_interval": f"{args.interval}s",
                                       "scrape_timeout": f"{args.interval}s",
                                       "static_configs": [{"targets": targets}]}]}, f)
    command = [args.vmagent, f"-httpListenAddr=127.0.0.1:{port}", f"-promscrape.config={config}",
               f"-remoteWrite.url=http://127.0.0.1:{sink}/api/v1/write",
               f"-remoteWrite.tmpDataPath={work}/vmagent", "-loggerLevel=ERROR"]

    def scraped():
        for line in get(f"http://127.0.0.1:{port}/metrics").splitlines():
            if line.startswith("vm_promscrape_scraped_samples_sum"):
                return int(float(line.split()[-1]))
        return 0
    return command, f"http://127.0.0.1:{port}/health", scraped


AGENTS = {"petrel": petrel_agent, "vmagent": vmagent_agent}


def run_once(args, agent, targets, sink, scratch):
    work = tempfile.mkdtemp(prefix=f"{agent}-", dir=scratch)
    command, ready, scraped = AGENTS[agent](args, work, targets, sink)
    log = open(os.path.join(work, "agent.log"), "w")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until(ready)
        time.sleep(2 * args.interval)
        if process.poll() is not None:
            raise SystemExit(f"{agent} exited with {process.returncode}; see {work}/agent.log")
        samples_before, cpu_before = scraped(), cpu_seconds(process.pid)
        time.sleep(args.window)
        samples_after, cpu_after = scraped(), cpu_seconds(process.pid)
        rss = peak_rss_mib(process.pid)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
    samples = samples_after - samples_before
    cpu = cpu_after - cpu_before
    expected = len(targets) * args.series * args.window / args.interval
    result = {
        "agent": agent, "samples_scraped": samples, "expected_samples": round(expected),
        "cpu_seconds": round(cpu, 3), "samples_per_cpu_second": round(samples / cpu) if cpu else 0,
        "cpu_share": round(cpu / args.window, 3), "peak_rss_mib": round(rss, 1),
    }
    if samples < 0.9 * expected:
        result["incomplete"] = True
    shutil.rmtree(work, ignore_errors=True)
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--petrel", default=".build/release/petrel")
    parser.add_argument("--vmagent", default=shutil.which("vmagent") or "/usr/bin/vmagent")
    parser.add_argument("--agents", default="petrel,vmagent")
    parser.add_argument("--petrel-sink", default="remote_write", choices=["remote_write", "blackhole"],
                        help="blackhole measures Petrel's scraping alone (vmagent always remote-writes)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--targets", type=int, default=1000)
    parser.add_argument("--series", type=int, default=1000)
    parser.add_argument("--interval", type=int, default=5, help="scrape interval in seconds, for both agents")
    parser.add_argument("--window", type=int, default=60, help="measured seconds, after two intervals of warm-up")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    agents = args.agents.split(",")
    scratch = tempfile.mkdtemp(prefix="scrape-side-by-side-")
    ports = free_ports(args.targets + 1)
    sink, target_ports = ports[0], ports[1:]
    targets = [f"127.0.0.1:{port}" for port in target_ports]
    nginx = start_nginx(scratch, target_ports, sink, args.series)
    nginx_cpu_before = nginx_cpu_seconds(nginx.pid)
    runs = []
    try:
        for index in range(args.runs):
            order = agents[index % len(agents):] + agents[:index % len(agents)]
            for agent in order:
                result = run_once(args, agent, targets, sink, scratch)
                print(json.dumps(result), file=sys.stderr, flush=True)
                runs.append(result)
        nginx_cpu = nginx_cpu_seconds(nginx.pid) - nginx_cpu_before
    finally:
        nginx.send_signal(signal.SIGQUIT)
        nginx.wait(timeout=30)
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"{args.targets} targets × {args.series} series every {args.interval}s, {args.window}s measured")
    print("| agent | samples scraped per CPU-second | peak RSS (MiB) | CPU share | complete runs |")
    print("| --- | --- | --- | --- | --- |")
    for agent in agents:
        mine = [r for r in runs if r["agent"] == agent]
        complete = [r for r in mine if not r.get("incomplete")]

        def median(key):
            return statistics.median(r[key] for r in complete) if complete else 0
        print(f"| {agent} | {median('samples_per_cpu_second'):,.0f} | {median('peak_rss_mib'):.1f} | "
              f"{median('cpu_share'):.2f} | {len(complete)}/{len(mine)} |")
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"machine": os.uname().release, "cpus": os.cpu_count(), "targets": args.targets,
                       "series": args.series, "interval_seconds": args.interval, "window_seconds": args.window,
                       "nginx_cpu_seconds": round(nginx_cpu, 3), "runs": runs}, f, indent=1)


if __name__ == "__main__":
    main()
