#!/usr/bin/env python3
"""Bytes on the wire per sample on the agent → aggregator hop, and the agent CPU each encoding costs.

The same `petrel bench remote-write` load (20,000 series of 10 labels, 1,000 series a request, at a fixed rate so
that every variant does the same work) goes into an agent that adds two external labels and forwards to a receiving
Petrel (`prometheus_remote_write` source → `blackhole`). `--max-samples` sets the Petrel sink's `batch.max_samples`
(2,000 by default, as Prometheus' `max_samples_per_send`): larger requests compress better. The receiver counts the request bodies' bytes as they
arrived (compressed) and the samples in them. Variants: vmagent (remote-write 1.0 + snappy, what it sends a
Prometheus-compatible receiver) and a Petrel agent with `protocol` v1 or v2 and `compression` snappy or zstd.

For each run: bytes per sample (received body bytes / received samples) and agent CPU microseconds per sample
(utime+stime from /proc, from the start of the load until the agent is idle). Runs alternate between variants,
`--runs` rounds; medians are printed as a Markdown table and every figure is written as JSON to --out.

Usage (from the repository root, after `swift build -c release --product petrel`):
    Benchmarks/SideBySide/wire_bytes.py [--runs 3] [--duration 20] [--rate 200000]
"""
import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from side_by_side import LABELS, ROOT, cpu_seconds, free_port, get, start_receiver, wait_idle, wait_until  # noqa: E402

VARIANTS = ["vmagent", "petrel v1 snappy", "petrel v2 snappy", "petrel v1 zstd", "petrel v2 zstd"]


def receiver_counts(api):
    """The receiving source's body bytes and samples so far."""
    _, text = get(f"http://127.0.0.1:{api}/metrics")
    counts = {"bytes": 0, "samples": 0}
    for line in text.splitlines():
        if not line.startswith("petrel_component_received_") or 'component_id="rw"' not in line:
            continue
        if line.startswith("petrel_component_received_bytes_total"):
            counts["bytes"] = int(float(line.split()[-1]))
        elif line.startswith("petrel_component_received_events_total"):
            counts["samples"] = int(float(line.split()[-1]))
    return counts


def agent_command(variant, petrel, port, receiver, workdir, max_samples):
    """The agent's command line, and the URL that answers 200 once it is ready."""
    if variant == "vmagent":
        command = [
            shutil.which("vmagent"), f"-httpListenAddr=127.0.0.1:{port}",
            f"-remoteWrite.url=http://127.0.0.1:{receiver}/api/v1/write",
            f"-remoteWrite.tmpDataPath={workdir}/vmagent", "-loggerLevel=ERROR",
        ] + [f"-remoteWrite.label={k}={v}" for k, v in LABELS.items()]
        return command, f"http://127.0.0.1:{port}/health"
    _, protocol, compression = variant.split()
    api = free_port()
    labels = ", ".join(f"{k}: {v}" for k, v in LABELS.items())
    path = os.path.join(workdir, "agent.yaml")
    with open(path, "w") as f:
        f.write(f"""
data_dir: {workdir}
api: {{ address: "127.0.0.1:{api}" }}
sources:
  rw: {{ type: prometheus_remote_write, address: "127.0.0.1:{port}" }}
transforms:
  tag: {{ type: tag, inputs: [rw], labels: {{ {labels} }} }}
sinks:
  out:
    type: prometheus_remote_write
    inputs: [tag]
    protocol: {protocol}
    compression: {compression}
    batch: {{ max_samples: {max_samples} }}
    endpoints: ["http://127.0.0.1:{receiver}/api/v1/write"]
""")
    return [petrel, "run", "--config", path, "--log-level", "warning"], f"http://127.0.0.1:{api}/ready"


def run_once(variant, args, receiver, receiver_api, workdir):
    port = free_port()
    directory = tempfile.mkdtemp(dir=workdir)
    command, ready = agent_command(variant, args.petrel, port, receiver, directory, args.max_samples)
    agent = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(ready)
        before = receiver_counts(receiver_api)
        start = cpu_seconds(agent.pid)
        load = subprocess.run(
            [args.petrel, "bench", "remote-write", "--url", f"http://127.0.0.1:{port}/api/v1/write",
             "--duration", str(args.duration), "--rate", str(args.rate), "--connections", "4", "--json", "--quiet",
             "--series", "20000", "--series-per-request", "1000"],
            capture_output=True, text=True)
        end = wait_idle(agent.pid)
        accepted = json.loads(load.stdout)["accepted_events"]
        # The agent may still hold a partly filled request: wait until the receiver has every accepted sample.
        for _ in range(100):
            after = receiver_counts(receiver_api)
            if after["samples"] - before["samples"] >= accepted:
                break
            wait_idle(agent.pid, quiet_for=0.2)
        samples = after["samples"] - before["samples"]
        body = after["bytes"] - before["bytes"]
        return {
            "variant": variant, "accepted_samples": accepted, "received_samples": samples, "received_bytes": body,
            "bytes_per_sample": body / max(samples, 1),
            "agent_cpu_us_per_sample": (end - start) * 1e6 / max(accepted, 1),
        }
    finally:
        agent.send_signal(signal.SIGTERM)
        try:
            agent.wait(timeout=60)
        except subprocess.TimeoutExpired:
            agent.kill()
            agent.wait()
        shutil.rmtree(directory, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--duration", type=int, default=20)
    parser.add_argument("--rate", type=int, default=200_000, help="samples per second offered to every variant")
    parser.add_argument("--petrel", default=os.path.join(ROOT, ".build/release/petrel"))
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--max-samples", type=int, default=2000, help="the Petrel sink's batch.max_samples")
    parser.add_argument("--out", default="wire_bytes.json")
    args = parser.parse_args()
    variants = args.variants.split(",")
    if "vmagent" in variants and not shutil.which("vmagent"):
        sys.exit("vmagent is not installed (Debian package victoria-metrics)")
    workdir = tempfile.mkdtemp(prefix="petrel-wire-bytes-")
    sink, receiver, receiver_api = start_receiver(args.petrel, workdir)
    runs = []
    try:
        wait_until(f"http://127.0.0.1:{receiver_api}/ready")
        for round_ in range(args.runs):
            order = variants if round_ % 2 == 0 else list(reversed(variants))
            for variant in order:
                run = run_once(variant, args, receiver, receiver_api, workdir)
                run["round"] = round_
                runs.append(run)
                print(json.dumps(run), file=sys.stderr, flush=True)
    finally:
        sink.send_signal(signal.SIGTERM)
        sink.wait(timeout=60)
        shutil.rmtree(workdir, ignore_errors=True)
    with open(args.out, "w") as f:
        json.dump(runs, f, indent=1)
    print("| variant | bytes per sample | agent CPU µs per sample | samples received / accepted |")
    print("| --- | --- | --- | --- |")
    for variant in variants:
        mine = [r for r in runs if r["variant"] == variant]
        received = sum(r["received_samples"] for r in mine)
        accepted = sum(r["accepted_samples"] for r in mine)
        print(f"| {variant} | {statistics.median(r['bytes_per_sample'] for r in mine):.1f} | "
              f"{statistics.median(r['agent_cpu_us_per_sample'] for r in mine):.2f} | {received:,} / {accepted:,} |")


if __name__ == "__main__":
    main()
