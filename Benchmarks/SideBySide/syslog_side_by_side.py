#!/usr/bin/env python3
"""Petrel, rsyslog and syslog-ng side by side, receiving the same RFC 5424 syslog stream over TCP and forwarding it.

The harness builds one stream of octet-counted RFC 5424 messages (RFC 6587, as rsyslog's omfwd and syslog-ng's
`syslog()` send them; ~200 bytes each, half with structured data), then runs each agent in turn, sends the stream to
it on one TCP connection as fast as it reads, and waits until every message is in its output: a file with one JSON
object per message holding the parsed fields (message, time, severity, facility, hostname, app name, proc id, msg
id, structured data), the one receiver all three have:

- Petrel: `syslog` source (`mode: tcp`) → `file` sink (`fsync: 1s`);
- rsyslog: `imptcp` (octet-counted framing on) → `omfile` with a JSON template of the parsed properties, Debian's;
- syslog-ng: `syslog()` source (octet-counted RFC 5424) → `file()` with `$(format-json --scope sdata ...)`,
  Debian's syslog-ng-core unpacked with `dpkg-deb -x` (`--syslog-ng-root`; it conflicts with rsyslog's package).

For each run: messages per CPU-second (messages divided by the agent's utime+stime from /proc/PID/stat, from start
until every message is in the output), and peak RSS (VmHWM). Runs rotate the order of the agents. Prints a Markdown
table of medians and writes every figure as JSON to --out.

Usage (from the repository root, after `swift build -c release --product petrel`):
    Benchmarks/SideBySide/syslog_side_by_side.py --petrel .build/release/petrel --syslog-ng-root /opt/syslog-ng \\
        [--runs 3] [--messages 1000000]
"""
import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from logs_side_by_side import count_lines, cpu_seconds, peak_rss_mib  # noqa: E402

WORDS = ["GET", "/api/v1/orders", "200", "user=4711", "latency_ms=12", "trace_id=4bf92f3577b34da6a3ce929d0e0e4736",
         "level=info", "msg=\"request served\"", "bytes=5120", "region=eu-west-1"]


def build_stream(messages):
    """Octet-counted RFC 5424 frames, every message unique by its sequence number."""
    frames = []
    for seq in range(messages):
        pri = 16 * 8 + (seq % 8)
        stamp = f"2026-12-07T02:{(seq // 60000) % 60:02d}:{(seq // 1000) % 60:02d}.{seq % 1000:03d}123Z"
        data = f'[req@32473 seq="{seq}" path="/api/v1/orders"]' if seq % 2 == 0 else "-"
        text = " ".join(WORDS[(seq + i) % len(WORDS)] for i in range(6))
        message = f"<{pri}>1 {stamp} host-{seq % 16:02d} app-{seq % 7} {1000 + seq % 50} ID{seq % 10} {data} " \
                  f"seq={seq} {text}"
        body = message.encode()
        frames.append(f"{len(body)} ".encode() + body)
    return b"".join(frames)


def petrel_command(args, port, work, out):
    config = os.path.join(work, "petrel.yaml")
    with open(config, "w") as f:
        f.write(f"""data_dir: {work}/data
api: {{ address: 127.0.0.1:0 }}
sources:
  syslog: {{ type: syslog, mode: tcp, address: "127.0.0.1:{port}" }}
sinks:
  out:
    type: file
    inputs: [syslog]
    path: {out}
    fsync: 1s
""")
    return [args.petrel, "run", "--config", config], {}


def rsyslog_command(args, port, work, out):
    config = os.path.join(work, "rsyslog.conf")
    fields = [("message", "msg"), ("timestamp", "timereported"), ("severity", "syslogseverity-text"),
              ("facility", "syslogfacility-text"), ("hostname", "hostname"), ("appname", "app-name"),
              ("procid", "procid"), ("msgid", "msgid"), ("structured_data", "structured-data")]
    template = []
    for index, (name, prop) in enumerate(fields):
        prefix = "{" if index == 0 else ","
        options = ' dateFormat="rfc3339"' if prop == "timereported" else ""
        template.append(f'  constant(value="{prefix}\\"{name}\\":\\"") property(name="{prop}" format="json"{options})\n'
                        f'  constant(value="\\"")')
    with open(config, "w") as f:
        f.write(f"""global(workDirectory="{work}")
module(load="imptcp")
template(name="json" type="list") {{
{chr(10).join(template)}
  constant(value="}}\\n")
}}
ruleset(name="forward") {{
  action(type="omfile" file="{out}" template="json" asyncWriting="on" flushOnTXEnd="off" ioBufferSize="256k")
}}
input(type="imptcp" port="{port}" address="127.0.0.1" SupportOctetCountedFraming="on" ruleset="forward")
""")
    return [args.rsyslogd, "-n", "-f", config, "-i", os.path.join(work, "rsyslog.pid")], {}


def syslog_ng_command(args, port, work, out):
    root = args.syslog_ng_root
    config = os.path.join(work, "syslog-ng.conf")
    with open(config, "w") as f:
        f.write(f"""@version: 3.38
options {{ stats-freq(0); log-fifo-size(100000); keep-hostname(yes); frac-digits(6); }};
source s_net {{ syslog(ip("127.0.0.1") port({port}) transport("tcp") log-iw-size(100000) log-fetch-limit(1000)); }};
destination d_out {{ file("{out}" template("$(format-json --scope sdata message=$MESSAGE timestamp=$ISODATE
  severity=$LEVEL facility=$FACILITY hostname=$HOST appname=$PROGRAM procid=$PID msgid=$MSGID)\\n")); }};
log {{ source(s_net); destination(d_out); }};
""")
    libraries = os.path.join(root, "usr/lib/syslog-ng")
    command = [os.path.join(root, "usr/sbin/syslog-ng"), "-F", "-f", config,
               f"--module-path={libraries}/3.38", f"--persist-file={work}/syslog-ng.persist",
               f"--pidfile={work}/syslog-ng.pid", f"--control={work}/syslog-ng.ctl"]
    return command, {"LD_LIBRARY_PATH": libraries}


AGENTS = {"petrel": petrel_command, "rsyslog": rsyslog_command, "syslog-ng": syslog_ng_command}


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def send_stream(port, stream, deadline, errors):
    """Connects (retrying while the agent starts) and writes the whole stream on one connection."""
    while time.time() < deadline:
        try:
            connection = socket.create_connection(("127.0.0.1", port), timeout=5)
            break
        except OSError:
            time.sleep(0.1)
    else:
        errors.append("could not connect")
        return
    try:
        connection.settimeout(None)
        view = memoryview(stream)
        for start in range(0, len(view), 1 << 20):
            connection.sendall(view[start:start + (1 << 20)])
    except OSError as error:
        errors.append(str(error))
    finally:
        connection.close()


def run_once(args, agent, stream, expected, scratch):
    work = tempfile.mkdtemp(prefix=f"{agent}-", dir=scratch)
    out = os.path.join(work, "out.ndjson")
    port = free_port()
    command, extra_env = AGENTS[agent](args, port, work, out)
    env = dict(os.environ, **extra_env)
    log = open(os.path.join(work, "agent.log"), "w")
    started = time.time()
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    errors = []
    sender = threading.Thread(target=send_stream, args=(port, stream, started + args.timeout, errors), daemon=True)
    sender.start()
    try:
        lines = 0
        deadline = started + args.timeout
        while time.time() < deadline and process.poll() is None:
            lines = count_lines(out)
            if lines >= expected:
                break
            time.sleep(0.2)
        wall = time.time() - started
        if process.poll() is not None:
            raise SystemExit(f"{agent} exited with {process.returncode}; see {work}/agent.log")
        cpu = cpu_seconds(process.pid)
        rss = peak_rss_mib(process.pid)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
        sender.join(timeout=10)
    result = {
        "agent": agent, "messages": lines, "expected": expected, "cpu_seconds": round(cpu, 3),
        "wall_seconds": round(wall, 3), "messages_per_cpu_second": round(lines / cpu) if cpu else 0,
        "peak_rss_mib": round(rss, 1),
    }
    if errors:
        result["sender_errors"] = errors
    if lines < expected:
        result["incomplete"] = True
    if args.keep_sample:
        with open(out) as f:
            result["sample"] = f.readline().strip()
    shutil.rmtree(work, ignore_errors=True)
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--petrel", default=".build/release/petrel")
    parser.add_argument("--rsyslogd", default="/usr/sbin/rsyslogd")
    parser.add_argument("--syslog-ng-root", default="/opt/syslog-ng")
    parser.add_argument("--agents", default="petrel,rsyslog,syslog-ng")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--messages", type=int, default=1000000)
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--keep-sample", action="store_true", help="print each agent's first output line")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    agents = args.agents.split(",")
    stream = build_stream(args.messages)
    print(f"{args.messages} messages, {len(stream) / (1 << 20):.1f} MiB", file=sys.stderr)
    scratch = tempfile.mkdtemp(prefix="syslog-side-by-side-")
    runs = []
    try:
        for index in range(args.runs):
            order = agents[index % len(agents):] + agents[:index % len(agents)]
            for agent in order:
                result = run_once(args, agent, stream, args.messages, scratch)
                print(json.dumps(result), file=sys.stderr)
                runs.append(result)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print("| agent | messages per CPU-second | peak RSS (MiB) | complete runs |")
    print("| --- | --- | --- | --- |")
    for agent in agents:
        mine = [r for r in runs if r["agent"] == agent]
        complete = [r for r in mine if not r.get("incomplete")]

        def median(key):
            return statistics.median(r[key] for r in complete) if complete else 0
        print(f"| {agent} | {median('messages_per_cpu_second'):,.0f} | {median('peak_rss_mib'):.1f} | "
              f"{len(complete)}/{len(mine)} |")
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"machine": os.uname().release, "messages": args.messages, "stream_bytes": len(stream),
                       "runs": runs}, f, indent=1)


if __name__ == "__main__":
    main()
