#!/usr/bin/env python3
"""Petrel and vmagent side by side, on the same machine, with the same load.

Both agents receive remote-write from `petrel bench` and forward it, with external labels (`plain`) or with a
relabel config and external labels (`relabel`), to the same blackhole receiver (a separate Petrel process whose
remote-write source feeds a `blackhole` sink). Runs alternate (A B, then B A, ...) so that drift in the machine
affects both. For each run:

- samples per CPU-second: samples the agent accepted, divided by the agent's utime+stime (from /proc/PID/stat)
  counted from the start of the load until the agent is idle again (so queued work counts);
- max accepted samples/s: what it accepted per second of the load, sent as fast as it answers over 4 connections;
- peak RSS: VmHWM of the agent at the end of the run;
- p99 latency at half the maximum rate: a second load at half the measured maximum, open loop.

With `--spans` (or `--logs`), it measures Petrel alone on OTLP traces (or logs) instead (no OpenTelemetry Collector
binary exists here to run beside it): `petrel bench otlp-traces` (`otlp-logs`) into Petrel's `otlp` source, `tag`, and
its `otlp` sink (OTLP/HTTP) to a receiving Petrel whose `otlp` source feeds a `blackhole`; spans (records) per
CPU-second counted the same way. `--baseline PATH` runs another Petrel binary beside it in the same run, alternating.

Usage (from the repository root, after `swift build -c release --product petrel`):
    Benchmarks/SideBySide/side_by_side.py [--pairs 3] [--duration 20] [--configs plain,relabel]
    Benchmarks/SideBySide/side_by_side.py --spans [--pairs 3] [--duration 20] [--baseline OTHER_PETREL]
    Benchmarks/SideBySide/side_by_side.py --logs [--pairs 3] [--duration 20] [--baseline OTHER_PETREL]
Prints a Markdown table of medians (and every run), and writes every figure as JSON to --out.
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

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
TICKS = os.sysconf("SC_CLK_TCK")
LABELS = {"cloud": "aws", "cluster": "prod-eu-west-1"}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status, response.read().decode()
    except Exception:
        return None, ""


def wait_until(url, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if get(url)[0] == 200:
            return
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer 200")


def start_receiver(petrel, workdir):
    """A Petrel receiving remote-write into a `blackhole` (source id `rw`); returns the process, its port, its API port."""
    receiver, receiver_api = free_port(), free_port()
    config = os.path.join(workdir, "receiver.yaml")
    with open(config, "w") as f:
        f.write(f"""
data_dir: {workdir}
api: {{ address: "127.0.0.1:{receiver_api}" }}
sources:
  rw: {{ type: prometheus_remote_write, address: "127.0.0.1:{receiver}" }}
sinks:
  bh: {{ type: blackhole, inputs: [rw] }}
""")
    process = subprocess.Popen([petrel, "run", "--config", config, "--log-level", "warning"])
    return process, receiver, receiver_api


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def peak_rss(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def wait_idle(pid, quiet_for=1.0, timeout=60):
    """Waits until the process used no CPU for `quiet_for` seconds; returns its CPU seconds then."""
    last = cpu_seconds(pid)
    quiet_since = time.time()
    deadline = time.time() + timeout
    while time.time() < deadline:
        time.sleep(0.1)
        now = cpu_seconds(pid)
        if now - last > 0.01:
            quiet_since = time.time()
        last = now
        if time.time() - quiet_since >= quiet_for:
            return now
    return last


def petrel_yaml(port, api, receiver, data, relabel):
    transforms = ""
    first = "rw"
    if relabel:
        transforms += f"""
  relabel:
    type: relabel
    inputs: [rw]
    rules:
      - {{ action: drop, source_labels: [__name__], regex: "bench_metric_1[0-9]" }}
      - {{ source_labels: [instance], regex: "(.+):(\\\\d+)", target_label: host, replacement: "$1" }}"""
        first = "relabel"
    labels = ", ".join(f"{k}: {v}" for k, v in LABELS.items())
    return f"""
data_dir: {data}
api: {{ address: "127.0.0.1:{api}" }}
sources:
  rw: {{ type: prometheus_remote_write, address: "127.0.0.1:{port}" }}
transforms:{transforms}
  tag: {{ type: tag, inputs: [{first}], labels: {{ {labels} }} }}
sinks:
  out:
    type: prometheus_remote_write
    inputs: [tag]
    endpoints: ["http://127.0.0.1:{receiver}/api/v1/write"]
"""


class Agent:
    def __init__(self, name, petrel, receiver, config, workdir):
        self.name = name
        self.port = free_port()
        self.workdir = tempfile.mkdtemp(dir=workdir)
        relabel = config == "relabel"
        if name == "petrel":
            api = free_port()
            path = os.path.join(self.workdir, "petrel.yaml")
            with open(path, "w") as f:
                f.write(petrel_yaml(self.port, api, receiver, self.workdir, relabel))
            self.command = [petrel, "run", "--config", path, "--log-level", "warning"]
            self.ready = f"http://127.0.0.1:{api}/ready"
        else:
            self.command = [
                shutil.which("vmagent"), f"-httpListenAddr=127.0.0.1:{self.port}",
                f"-remoteWrite.url=http://127.0.0.1:{receiver}/api/v1/write",
                f"-remoteWrite.tmpDataPath={self.workdir}/vmagent", "-loggerLevel=ERROR",
            ] + [f"-remoteWrite.label={k}={v}" for k, v in LABELS.items()]
            if relabel:
                self.command.append(f"-remoteWrite.relabelConfig={HERE}/relabel.yml")
            self.ready = f"http://127.0.0.1:{self.port}/health"
        self.url = f"http://127.0.0.1:{self.port}/api/v1/write"

    def __enter__(self):
        self.process = subprocess.Popen(self.command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(self.ready)
        return self

    def __exit__(self, *exc):
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
        shutil.rmtree(self.workdir, ignore_errors=True)


def bench(petrel, url, duration, rate=0):
    command = [petrel, "bench", "remote-write", "--url", url, "--duration", str(duration), "--connections", "4",
               "--json", "--quiet", "--series", "20000", "--series-per-request", "1000"]
    if rate:
        command += ["--rate", str(int(rate))]
    output = subprocess.run(command, capture_output=True, text=True).stdout
    return json.loads(output)


def receiver_samples(api):
    _, text = get(f"http://127.0.0.1:{api}/metrics")
    for line in text.splitlines():
        if line.startswith('petrel_component_received_events_total{component_id="bh"'):
            return int(float(line.split()[-1]))
    return 0


def run_once(name, config, petrel, receiver, receiver_api, duration, workdir, perf=None):
    """One agent under the load; with `perf`, `perf record` samples the agent into that file during the load."""
    with Agent(name, petrel, receiver, config, workdir) as agent:
        pid = agent.process.pid
        forwarded_before = receiver_samples(receiver_api)
        start_cpu = cpu_seconds(pid)
        recorder = None
        if perf:
            recorder = subprocess.Popen(["perf", "record", "-F", "999", "-g", "-p", str(pid), "-o", perf, "--",
                                         "sleep", str(max(1, duration - 5))],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        load = bench(petrel, agent.url, duration)
        if recorder:
            recorder.wait()
        end_cpu = wait_idle(pid)
        forwarded = receiver_samples(receiver_api) - forwarded_before
        accepted = load["accepted_events"]
        maximum = load["accepted_events_per_second"]
        half = bench(petrel, agent.url, max(5, duration // 2), rate=maximum / 2)
        wait_idle(pid)
        return {
            "agent": name, "config": config, "accepted_samples": accepted,
            "agent_cpu_seconds": end_cpu - start_cpu,
            "samples_per_cpu_second": accepted / max(end_cpu - start_cpu, 1e-9),
            "max_accepted_samples_per_second": maximum,
            "peak_rss_bytes": peak_rss(pid),
            "p99_ms_at_half_max": half["latency_ms"]["p99"],
            "half_max_accepted_ratio": half["accepted_events"] / max(1, (maximum / 2) * max(5, duration // 2)),
            "forwarded_series": forwarded,
            "statuses": load["statuses"],
        }


def otlp(args, workdir, kind):
    """Petrel alone on OTLP traces or logs: events per CPU-second, peak RSS, p99 at half max.

    With --baseline, each pair runs that binary as well (the order alternating from pair to pair), under the same
    load, receiver and `petrel bench` of --petrel."""
    item = "spans" if kind == "traces" else "records"
    receiver_http, receiver_grpc, receiver_api = free_port(), free_port(), free_port()
    receiver_config = os.path.join(workdir, "otlp-receiver.yaml")
    with open(receiver_config, "w") as f:
        f.write(f"""
data_dir: {workdir}
api: {{ address: "127.0.0.1:{receiver_api}" }}
sources:
  otlp: {{ type: otlp, grpc_address: "127.0.0.1:{receiver_grpc}", http_address: "127.0.0.1:{receiver_http}" }}
sinks:
  bh: {{ type: blackhole, inputs: [otlp] }}
""")
    agents = [("petrel", args.petrel)] + ([("baseline", args.baseline)] if args.baseline else [])
    receiver = subprocess.Popen([args.petrel, "run", "--config", receiver_config, "--log-level", "warning"])
    runs = []
    try:
        wait_until(f"http://127.0.0.1:{receiver_api}/ready")
        for pair in range(args.pairs):
            for name, binary in (agents if pair % 2 == 0 else list(reversed(agents))):
                http, grpc, api = free_port(), free_port(), free_port()
                config = os.path.join(workdir, "otlp-agent.yaml")
                labels = ", ".join(f"{k}: {v}" for k, v in LABELS.items())
                with open(config, "w") as f:
                    f.write(f"""
data_dir: {workdir}
api: {{ address: "127.0.0.1:{api}" }}
sources:
  otlp: {{ type: otlp, grpc_address: "127.0.0.1:{grpc}", http_address: "127.0.0.1:{http}" }}
transforms:
  tag: {{ type: tag, inputs: [otlp], labels: {{ {labels} }} }}
sinks:
  out: {{ type: otlp, inputs: [tag], protocol: http, compression: none, endpoint: "http://127.0.0.1:{receiver_http}" }}
""")
                agent = subprocess.Popen([binary, "run", "--config", config, "--log-level", "warning"])
                try:
                    wait_until(f"http://127.0.0.1:{api}/ready")
                    url = f"http://127.0.0.1:{http}/v1/{kind}"
                    command = [args.petrel, "bench", f"otlp-{kind}", "--url", url, "--connections", "4", "--json",
                               "--quiet", "--events-per-request", "1000"]
                    start = cpu_seconds(agent.pid)
                    load = json.loads(subprocess.run(command + ["--duration", str(args.duration)],
                                                     capture_output=True, text=True).stdout)
                    end = wait_idle(agent.pid)
                    maximum = load["accepted_events_per_second"]
                    half = json.loads(subprocess.run(
                        command + ["--duration", str(max(5, args.duration // 2)), "--rate", str(int(maximum / 2))],
                        capture_output=True, text=True).stdout)
                    run = {"agent": name, "binary": binary, "config": kind, "pair": pair,
                           f"accepted_{item}": load["accepted_events"], "agent_cpu_seconds": end - start,
                           f"{item}_per_cpu_second": load["accepted_events"] / max(end - start, 1e-9),
                           f"max_accepted_{item}_per_second": maximum, "peak_rss_bytes": peak_rss(agent.pid),
                           "p99_ms_at_half_max": half["latency_ms"]["p99"], "statuses": load["statuses"]}
                    runs.append(run)
                    print(json.dumps(run), file=sys.stderr, flush=True)
                finally:
                    agent.send_signal(signal.SIGTERM)
                    agent.wait(timeout=60)
    finally:
        receiver.send_signal(signal.SIGTERM)
        receiver.wait(timeout=60)
    return runs


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--duration", type=int, default=20)
    parser.add_argument("--configs", default="plain,relabel")
    parser.add_argument("--petrel", default=os.path.join(ROOT, ".build/release/petrel"))
    parser.add_argument("--out", default="side_by_side.json")
    parser.add_argument("--spans", action="store_true", help="Petrel alone on OTLP traces")
    parser.add_argument("--logs", action="store_true", help="Petrel alone on OTLP logs")
    parser.add_argument("--baseline", help="with --spans or --logs: another petrel binary to run beside --petrel")
    parser.add_argument("--perf", metavar="PREFIX",
                        help="after the pairs of each configuration, one more Petrel run (not counted) with "
                             "`perf record -g` on the agent into PREFIX-<config>.data")
    args = parser.parse_args()
    if args.spans or args.logs:
        signal_name, item = ("traces", "spans") if args.spans else ("logs", "records")
        workdir = tempfile.mkdtemp(prefix=f"petrel-{signal_name}-")
        try:
            runs = otlp(args, workdir, signal_name)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        with open(args.out, "w") as f:
            json.dump(runs, f, indent=1)
        for name in sorted({r["agent"] for r in runs}):
            mine = [r for r in runs if r["agent"] == name]
            for key in [f"{item}_per_cpu_second", f"max_accepted_{item}_per_second", "peak_rss_bytes",
                        "p99_ms_at_half_max"]:
                print(f"{name} {key}: median {statistics.median(r[key] for r in mine):,.1f}")
        return
    if not shutil.which("vmagent"):
        sys.exit("vmagent is not installed (Debian package victoria-metrics)")
    workdir = tempfile.mkdtemp(prefix="petrel-side-by-side-")
    sink, receiver, receiver_api = start_receiver(args.petrel, workdir)
    runs = []
    try:
        wait_until(f"http://127.0.0.1:{receiver_api}/ready")
        for config in args.configs.split(","):
            for pair in range(args.pairs):
                order = ["petrel", "vmagent"] if pair % 2 == 0 else ["vmagent", "petrel"]
                for name in order:
                    result = run_once(name, config, args.petrel, receiver, receiver_api, args.duration, workdir)
                    result["pair"] = pair
                    runs.append(result)
                    print(json.dumps(result), file=sys.stderr, flush=True)
            if args.perf:
                # One more Petrel run under perf, not counted: the profile of the figures above.
                run_once("petrel", config, args.petrel, receiver, receiver_api, args.duration, workdir,
                         perf=f"{args.perf}-{config}.data")
    finally:
        sink.send_signal(signal.SIGTERM)
        sink.wait(timeout=60)
        shutil.rmtree(workdir, ignore_errors=True)
    with open(args.out, "w") as f:
        json.dump(runs, f, indent=1)
    print(table(runs))


def table(runs):
    lines = ["| config | agent | samples per CPU-second | max accepted samples/s | peak RSS MiB | p99 ms at half max |",
             "| --- | --- | --- | --- | --- | --- |"]
    ratios = []
    for config in sorted({r["config"] for r in runs}, key=["plain", "relabel"].index):
        medians = {}
        for agent in ["petrel", "vmagent"]:
            mine = [r for r in runs if r["config"] == config and r["agent"] == agent]
            if not mine:
                continue
            m = {k: statistics.median(r[k] for r in mine) for k in
                 ["samples_per_cpu_second", "max_accepted_samples_per_second", "peak_rss_bytes", "p99_ms_at_half_max"]}
            medians[agent] = m
            lines.append(f"| {config} | {agent} | {m['samples_per_cpu_second']:,.0f} | "
                         f"{m['max_accepted_samples_per_second']:,.0f} | {m['peak_rss_bytes'] / 2**20:.0f} | "
                         f"{m['p99_ms_at_half_max']:.1f} |")
        pairs = sorted({r["pair"] for r in runs if r["config"] == config})
        per_pair = []
        for pair in pairs:
            p = [r for r in runs if r["config"] == config and r["pair"] == pair and r["agent"] == "petrel"]
            v = [r for r in runs if r["config"] == config and r["pair"] == pair and r["agent"] == "vmagent"]
            if p and v:
                per_pair.append(p[0]["samples_per_cpu_second"] / v[0]["samples_per_cpu_second"])
        if per_pair:
            ratios.append(f"{config}: Petrel/vmagent samples per CPU-second per pair "
                          f"{', '.join(f'{x:.2f}' for x in per_pair)}; median {statistics.median(per_pair):.2f}")
    return "\n".join(lines + [""] + ratios)


if __name__ == "__main__":
    main()
