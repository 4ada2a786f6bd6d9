#!/usr/bin/env python3
"""A soak of the real `petrel run`: remote-write load at a fixed rate, a VictoriaMetrics that goes away every minute.

`petrel bench remote-write` pushes to Petrel's `prometheus_remote_write` source at `--rate` samples/s; Petrel
forwards through a disk buffer to a real VictoriaMetrics (Debian's `victoria-metrics`), which the harness stops
(SIGTERM) for `--down` seconds every `--flap-every` seconds and starts again on the same data directory. Every
`--sample-every` seconds it records Petrel's RSS (VmRSS), open file descriptors (/proc/PID/fd), threads and the
bytes in its disk buffer, into a CSV. At the end the load stops, Petrel drains its buffer, and the harness checks
that VictoriaMetrics holds exactly the samples `petrel bench` was answered 2xx for: `sum(count_over_time(...))` over
every series (VictoriaMetrics keeps repeated identical samples, so the count is of every accepted copy; a loss and a
duplicate of the same size would cancel, which the per-sample checks of SimulatedCloudsTests do not allow).

The load's default rate is half the maximum measured on the development machine (`--measure-max` measures it
here: `petrel bench` as fast as Petrel accepts for 20 s, into Petrel forwarding to a healthy VictoriaMetrics).

Usage (from the repository root, after `swift build --product petrel`; or `make soak SOAK_MINUTES=10`):
    Benchmarks/Soak/soak.py --duration 10m [--rate N] [--petrel .build/debug/petrel] [--bench PATH]
    Benchmarks/Soak/soak.py --measure-max
Prints a table of the curves (start, middle, end, slope per hour); writes every sample as CSV and the summary as
JSON next to --out. Exits 1 when a sample was lost or Petrel did not exit cleanly.
"""
import argparse
import csv
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
# Half of 3,700 samples/s, the most a debug build of Petrel accepted on the 2-core development machine while other
# builds kept its load average at 14 (`--measure-max`, 2026-12-07; see docs/RELIABILITY.md, "Soak"). A release build
# takes far more: measure it with --measure-max and pass --rate.
DEFAULT_RATE = 1_850
# Metric names `petrel bench` uses (bench_metric_0 ... bench_metric_199): counted one name at a time so that no
# single query reads more than a 200th of a long run's samples.
BENCH_METRICS = 200


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url, timeout=5):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read().decode()
    except Exception:
        return None, ""


def wait_until(url, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if get(url)[0] == 200:
            return
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer 200")


def parse_duration(text):
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([smh]?)", text)
    if not match:
        raise argparse.ArgumentTypeError(f"not a duration: {text} (600, 600s, 10m, 12h)")
    return float(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[match.group(2)]


def process_figures(pid):
    """RSS bytes, open file descriptors and threads of a process."""
    rss = threads = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) * 1024
            elif line.startswith("Threads:"):
                threads = int(line.split()[1])
    return rss, len(os.listdir(f"/proc/{pid}/fd")), threads


def metric(text, name):
    """The sum of every series of `name` in a Prometheus exposition."""
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and (len(line) == len(name) or line[len(name)] in " {"):
            total += float(line.rsplit(" ", 1)[1])
    return total


class VictoriaMetrics:
    def __init__(self, workdir):
        self.port = free_port()
        self.data = os.path.join(workdir, "vm")
        self.log = open(os.path.join(workdir, "vm.log"), "ab")
        self.process = None
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self):
        self.process = subprocess.Popen(
            [
                shutil.which("victoria-metrics"), f"-storageDataPath={self.data}",
                f"-httpListenAddr=127.0.0.1:{self.port}", "-retentionPeriod=100y", "-loggerLevel=ERROR",
                "-search.latencyOffset=0s", "-search.disableCache", "-search.maxSamplesPerQuery=100000000000",
                "-search.maxQueryDuration=600s",
            ],
            stdout=self.log, stderr=self.log)
        wait_until(f"{self.url}/health")

    def stop(self):
        if self.process is None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def count(self, window_seconds):
        """Every raw sample of the bench's series, however many copies of one sample there are."""
        get(f"{self.url}/internal/force_flush")
        total = 0
        for index in range(BENCH_METRICS):
            query = f'sum(count_over_time(bench_metric_{index}{{job="bench"}}[{int(window_seconds)}s]))'
            status, body = get(
                f"{self.url}/api/v1/query?" + urllib.parse.urlencode({"query": query, "time": int(time.time())}),
                timeout=600)
            if status != 200:
                raise RuntimeError(f"VictoriaMetrics answered {status} to {query}: {body[:200]}")
            result = json.loads(body)["data"]["result"]
            total += int(float(result[0]["value"][1])) if result else 0
        return total


class Petrel:
    def __init__(self, binary, workdir, vm_url):
        self.port = free_port()
        self.api = free_port()
        config = os.path.join(workdir, "petrel.yaml")
        with open(config, "w") as f:
            f.write(f"""
data_dir: {workdir}/data
api: {{ address: "127.0.0.1:{self.api}" }}
memory_limit: 256MiB
sources:
  rw: {{ type: prometheus_remote_write, address: "127.0.0.1:{self.port}" }}
sinks:
  vm:
    type: prometheus_remote_write
    inputs: [rw]
    endpoints: ["{vm_url}/api/v1/write"]
    buffer: {{ type: disk, max_size: 8GiB }}
""")
        self.log = open(os.path.join(workdir, "petrel.log"), "ab")
        self.process = subprocess.Popen(
            [binary, "run", "--config", config, "--log-level", "warning"], stdout=self.log, stderr=self.log)
        wait_until(f"http://127.0.0.1:{self.api}/ready")

    def metrics(self):
        return get(f"http://127.0.0.1:{self.api}/metrics")[1]

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()


def bench_command(bench, petrel, rate, seconds):
    command = [
        bench, "bench", "remote-write", "--url", f"http://127.0.0.1:{petrel.port}/api/v1/write",
        "--duration", str(seconds), "--json", "--quiet",
    ]
    if rate:
        command += ["--rate", str(rate)]
    return command


def measure_max(args, workdir):
    vm = VictoriaMetrics(workdir)
    vm.start()
    petrel = Petrel(args.petrel, workdir, vm.url)
    try:
        out = subprocess.run(bench_command(args.bench, petrel, 0, 20), capture_output=True, text=True, check=True)
        summary = json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        petrel.stop()
        vm.stop()
    rate = summary["accepted_events_per_second"]
    print(f"maximum: {rate:,.0f} samples/s accepted over 20 s (statuses {summary['statuses']}); "
          f"half: {rate / 2:,.0f}")
    return rate


def slope_per_hour(points):
    """Least-squares slope of (seconds, value) points, per hour."""
    if len(points) < 2:
        return 0.0
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_v = sum(v for _, v in points) / n
    var = sum((t - mean_t) ** 2 for t, _ in points)
    if var == 0:
        return 0.0
    return sum((t - mean_t) * (v - mean_v) for t, v in points) / var * 3600


def soak(args, workdir):
    rate = args.rate or DEFAULT_RATE
    vm = VictoriaMetrics(workdir)
    vm.start()
    petrel = Petrel(args.petrel, workdir, vm.url)
    pid = petrel.process.pid
    started = time.time()
    load = subprocess.Popen(
        bench_command(args.bench, petrel, rate, args.duration), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        text=True)
    print(f"soak: petrel {pid} ({args.petrel}), {rate:,} samples/s for {args.duration:.0f} s, VictoriaMetrics down "
          f"{args.down:.0f} s every {args.flap_every:.0f} s; samples every {args.sample_every:.0f} s", flush=True)
    # The flapping runs beside the sampling, so that samples go on while VictoriaMetrics is down.
    flaps = []
    stop_flapping = threading.Event()

    def flap():
        next_flap = started + args.flap_every
        while not stop_flapping.wait(max(0.0, next_flap - time.time())):
            if time.time() - started >= args.duration - args.down - 5:
                return
            vm.stop()
            flaps.append(round(time.time() - started, 1))
            if stop_flapping.wait(args.down):
                vm.start()
                return
            vm.start()
            next_flap += args.flap_every

    flapper = threading.Thread(target=flap)
    flapper.start()
    samples = []
    next_sample = started
    while load.poll() is None:
        now = time.time()
        if now >= next_sample:
            rss, fds, threads = process_figures(pid)
            text = petrel.metrics()
            samples.append({
                "seconds": round(now - started, 1), "phase": "load", "rss_bytes": rss, "open_fds": fds,
                "threads": threads, "buffer_bytes": int(metric(text, "petrel_buffer_byte_size")),
                "vm_up": vm.process is not None,
            })
            if len(samples) % max(1, int(60 / args.sample_every)) == 1:
                s = samples[-1]
                print(f"  {s['seconds']:7.0f} s  rss {s['rss_bytes'] / 2**20:6.1f} MiB  fds {s['open_fds']:4d}  "
                      f"threads {s['threads']:3d}  buffer {s['buffer_bytes'] / 2**20:7.1f} MiB", flush=True)
            next_sample = max(next_sample + args.sample_every, now)
        time.sleep(0.2)
    stop_flapping.set()
    flapper.join()
    summary = json.loads(load.stdout.read().strip().splitlines()[-1])
    accepted = summary["accepted_events"]

    # Drain: the buffer empties once VictoriaMetrics took everything.
    drain_started = time.time()
    while time.time() - drain_started < 600:
        text = petrel.metrics()
        if metric(text, "petrel_buffer_records") == 0:
            break
        time.sleep(1)
    drain = time.time() - drain_started
    rss, fds, threads = process_figures(pid)
    samples.append({"seconds": round(time.time() - started, 1), "phase": "drained", "rss_bytes": rss,
                    "open_fds": fds, "threads": threads,
                    "buffer_bytes": int(metric(petrel.metrics(), "petrel_buffer_byte_size")), "vm_up": True})
    text = petrel.metrics()
    retries = metric(text, "petrel_remote_write_retries_total")
    discarded = metric(text, "petrel_component_discarded_events_total")
    exit_code = petrel.stop()

    window = time.time() - started + 900  # the bench's samples are stamped up to 240 s before it starts
    held = vm.count(window)
    vm.stop()
    return {
        "rate": rate, "duration_seconds": args.duration, "flaps": len(flaps), "flapped_at_seconds": flaps,
        "down_seconds": args.down,
        "bench": summary, "accepted_samples": accepted, "held_samples": held, "drain_seconds": round(drain, 1),
        "retries": retries, "discarded": discarded, "petrel_exit_code": exit_code, "samples": samples,
        "petrel": args.petrel,
    }


def curve(samples, key, scale=1.0):
    """Start, middle and end of the load, min and max, slopes over the load and its second half, and the value once
    drained."""
    points = [(s["seconds"], s[key] / scale) for s in samples if s["phase"] == "load"]
    values = [v for _, v in points]
    half = [p for p in points if p[0] >= points[-1][0] / 2]
    return {
        "start": values[0], "mid": values[len(values) // 2], "end": values[-1], "min": min(values),
        "max": max(values), "slope_per_hour": slope_per_hour(points),
        "second_half_slope_per_hour": slope_per_hour(half), "drained": samples[-1][key] / scale,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=parse_duration, default=parse_duration("10m"))
    parser.add_argument("--rate", type=int, default=0, help=f"samples/s (default {DEFAULT_RATE:,})")
    parser.add_argument("--flap-every", type=parse_duration, default=60.0)
    parser.add_argument("--down", type=parse_duration, default=10.0, help="how long VictoriaMetrics stays down")
    parser.add_argument("--sample-every", type=parse_duration, default=10.0)
    parser.add_argument("--petrel", default=os.path.join(ROOT, ".build/debug/petrel"))
    parser.add_argument("--bench", default=None, help="the petrel binary that generates the load (default --petrel)")
    parser.add_argument("--measure-max", action="store_true")
    parser.add_argument("--out", default=None, help="summary JSON (default Benchmarks/Soak/results-<date>.json)")
    args = parser.parse_args()
    args.bench = args.bench or args.petrel
    if not shutil.which("victoria-metrics"):
        sys.exit("victoria-metrics is missing (apt-get install victoria-metrics)")
    workdir = tempfile.mkdtemp(prefix="petrel-soak-")
    try:
        if args.measure_max:
            measure_max(args, workdir)
            return
        result = soak(args, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    out = args.out or os.path.join(HERE, f"results-{time.strftime('%Y-%m-%d')}-{int(args.duration)}s.json")
    with open(out.removesuffix(".json") + ".csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(result["samples"][0].keys()))
        writer.writeheader()
        writer.writerows(result["samples"])
    curves = {
        "RSS (MiB)": curve(result["samples"], "rss_bytes", 2**20),
        "open fds": curve(result["samples"], "open_fds"),
        "threads": curve(result["samples"], "threads"),
        "disk buffer (MiB)": curve(result["samples"], "buffer_bytes", 2**20),
    }
    result["curves"] = curves
    with open(out, "w") as f:
        json.dump(result, f, indent=1)

    print()
    print("| figure | start | mid | end of load | min | max | slope/hour | slope/hour, 2nd half | drained |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, c in curves.items():
        print(f"| {name} | {c['start']:.1f} | {c['mid']:.1f} | {c['end']:.1f} | {c['min']:.1f} | {c['max']:.1f} | "
              f"{c['slope_per_hour']:+.1f} | {c['second_half_slope_per_hour']:+.1f} | {c['drained']:.1f} |")
    lost = result["accepted_samples"] - result["held_samples"]
    print()
    print(f"{result['rate']:,} samples/s for {result['duration_seconds']:.0f} s, VictoriaMetrics stopped "
          f"{result['flaps']} times for {result['down_seconds']:.0f} s; bench statuses {result['bench']['statuses']}")
    print(f"accepted (2xx) {result['accepted_samples']:,} samples; VictoriaMetrics holds {result['held_samples']:,}"
          f" ({'equal' if lost == 0 else f'{lost:+,} missing' if lost > 0 else f'{-lost:,} extra'}); drained "
          f"{result['drain_seconds']} s after the load; {result['retries']:.0f} retries; "
          f"{result['discarded']:.0f} discarded; petrel exit {result['petrel_exit_code']}")
    print(f"samples: {out.removesuffix('.json')}.csv, summary: {out}")
    if lost != 0 or result["petrel_exit_code"] != 0:
        sys.exit(1)


if __name__ == "__main__":
    main()
