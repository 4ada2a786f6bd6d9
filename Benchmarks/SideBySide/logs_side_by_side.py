#!/usr/bin/env python3
"""Petrel, rsyslog and syslog-ng side by side, reading the same Kubernetes container log files.

The harness writes pods under a `pods_root` as the kubelet lays them out
(`<namespace>_<pod>_<uid>/<container>/0.log`, CRI lines as containerd writes them: `<RFC3339Nano> stdout F <msg>`),
then runs each agent in turn on a fresh copy of its state, reading every file from the beginning and writing one
JSON object per line (the message and the file it came from) to a file, the one receiver all three have:

- Petrel: `kubernetes_logs` (`kubernetes_api` off) → `file` sink, which also parses each CRI line (time, stream,
  tag) and adds the pod's attributes, which the others are not asked to do;
- rsyslog (`imfile` with wildcards → `omfile` with a JSON template), Debian's package;
- syslog-ng (`wildcard-file()` with `flags(no-parse)` → `file()` with `$(format-json)`), Debian's package. Debian's
  syslog-ng-core conflicts with rsyslog, so the harness runs it from its .deb unpacked with `dpkg-deb -x`
  (`--syslog-ng-root`, made by `apt-get download syslog-ng-core && dpkg-deb -x syslog-ng-core_*.deb DIR`).

With `--parse-json`, every line's message is a JSON object (`{"ts":…,"level":"INFO","msg":…,…}`, ~250 bytes a line)
and each agent parses it, reshapes it and writes the parsed fields back as one JSON object per line:

- Petrel: `kubernetes_logs` → `remap` (`parse_json` the message, `msg` becomes the message, drop `trace_id`,
  downcase `level`, the record's timestamp from `ts` with `parse_timestamp`) → `file` sink;
- rsyslog: `imfile` → `parse_json()` of the body after the CRI prefix (the json-c parse `mmjsonparse` does; that
  module reads `msg` from its first byte, which here is the CRI timestamp) → `unset $!trace_id`,
  `set $!level = tolower($!level)` → `omfile` with the template `%$!all-json%` (rsyslog cannot set a message's
  timestamp from a field, so `ts` stays a field);
- syslog-ng: `wildcard-file()` → `json-parser(prefix(".json."))` → `unset(value(".json.trace_id"))`,
  `set("$(lowercase ${.json.level})" value(".json.level"))`, `date-parser(template("${.json.ts}"))` →
  `file()` with `$(format-json --scope dot-nv-pairs --rekey .json.* --shift 6)`.

For each run: lines per CPU-second (input lines divided by the agent's utime+stime from /proc/PID/stat, from start
until every line is in the output), MiB/s of input over the wall time, and peak RSS (VmHWM). Runs rotate the order
of the agents. Prints a Markdown table of medians and writes every figure as JSON to --out.

Usage (from the repository root, after `swift build -c release --product petrel`):
    Benchmarks/SideBySide/logs_side_by_side.py --petrel .build/release/petrel --syslog-ng-root /opt/syslog-ng \\
        [--runs 3] [--pods 20] [--lines-per-pod 100000] [--parse-json]
"""
import argparse
import datetime
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

TICKS = os.sysconf("SC_CLK_TCK")
WORDS = ["GET", "/api/v1/orders", "200", "user=4711", "latency_ms=12", "trace_id=4bf92f3577b34da6a3ce929d0e0e4736",
         "level=info", "msg=\"request served\"", "bytes=5120", "region=eu-west-1"]


def json_message(pod, line, at):
    """A structured application log line: what `--parse-json` gives every agent to parse."""
    return json.dumps({
        "ts": at.strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z", "level": ["INFO", "WARN", "ERROR", "DEBUG"][line % 4],
        "msg": "request served", "pod": pod, "seq": line, "method": "GET", "path": f"/api/v1/orders/{line % 977}",
        "status": 200, "latency_ms": line % 97, "user": "4711", "trace_id": f"{pod:08x}{line:024x}",
    }, separators=(",", ":"))


def write_pods(root, pods, lines_per_pod, parse_json=False):
    """CRI lines of realistic size (~160 bytes, ~290 with JSON messages), every one unique by its sequence number."""
    start = datetime.datetime(2026, 12, 6, 12, 0, 0, tzinfo=datetime.timezone.utc)
    total_bytes = 0
    for pod in range(pods):
        directory = os.path.join(root, f"shop_web-{pod:04d}-7d9f8c6b5d-x2k4q_{pod:08d}-1111-2222-3333-444455556666",
                                 "app")
        os.makedirs(directory)
        with open(os.path.join(directory, "0.log"), "w") as out:
            chunk = []
            for line in range(lines_per_pod):
                at = start + datetime.timedelta(microseconds=line * 10)
                stamp = at.strftime("%Y-%m-%dT%H:%M:%S.%f") + "123Z"
                if parse_json:
                    chunk.append(f"{stamp} stdout F {json_message(pod, line, at)}\n")
                else:
                    message = " ".join(WORDS[(line + i) % len(WORDS)] for i in range(6))
                    chunk.append(f"{stamp} stdout F pod={pod} seq={line} {message}\n")
                if len(chunk) == 10000:
                    text = "".join(chunk)
                    total_bytes += len(text)
                    out.write(text)
                    chunk = []
            text = "".join(chunk)
            total_bytes += len(text)
            out.write(text)
    return total_bytes


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def peak_rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0


def count_lines(path):
    if not os.path.exists(path):
        return 0
    count = 0
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            count += block.count(b"\n")
    return count


PETREL_REMAP = """transforms:
  shape:
    type: remap
    inputs: [pods]
    source: |
      . |= object!(parse_json!(.message))
      .message = del(.msg)
      del(.trace_id)
      .level = downcase!(.level)
      .timestamp = parse_timestamp!(del(.ts), "%+")
"""


def petrel_command(args, pods_root, work, out):
    config = os.path.join(work, "petrel.yaml")
    with open(config, "w") as f:
        f.write(f"""data_dir: {work}/data
api: {{ address: 127.0.0.1:0 }}
sources:
  pods:
    type: kubernetes_logs
    pods_root: {pods_root}
    kubernetes_api: {{ enabled: false }}
{PETREL_REMAP if args.parse_json else ""}sinks:
  out:
    type: file
    inputs: [{"shape" if args.parse_json else "pods"}]
    path: {out}
    fsync: 1s
""")
    return [args.petrel, "run", "--config", config], {}


RSYSLOG_PLAIN = """action(type="omfile" file="{out}" template="json" asyncWriting="on" flushOnTXEnd="off" \
ioBufferSize="256k")
"""
# mmjsonparse parses `msg` from its first byte (after a fixed cookie), and imfile's `msg` is the whole CRI line, so it
# cannot reach the JSON body; RainerScript's parse_json() is the same json-c parse on any string. The CRI prefix has
# a fixed width in these files (40 bytes), so a substring cuts it: cheaper than parsing CRI as Petrel does.
RSYSLOG_PARSE = """template(name="parsed" type="string" string="%$!all-json%\\n")
if parse_json(substring($msg, 40, 1000000), "\\$!") == 0 then {{
  unset $!trace_id;
  set $!level = tolower($!level);
}}
action(type="omfile" file="{out}" template="parsed" asyncWriting="on" flushOnTXEnd="off" ioBufferSize="256k")
"""


def rsyslog_command(args, pods_root, work, out):
    config = os.path.join(work, "rsyslog.conf")
    with open(config, "w") as f:
        f.write(f"""global(workDirectory="{work}")
module(load="imfile" mode="inotify")
template(name="json" type="list") {{
  constant(value="{{\\"message\\":\\"") property(name="msg" format="json")
  constant(value="\\",\\"file\\":\\"") property(name="$!metadata!filename" format="json")
  constant(value="\\"}}\\n")
}}
input(type="imfile" file="{pods_root}/*/*/*.log" tag="k8s" addMetadata="on" readMode="0")
{(RSYSLOG_PARSE if args.parse_json else RSYSLOG_PLAIN).format(out=out)}""")
    return [args.rsyslogd, "-n", "-f", config, "-i", os.path.join(work, "rsyslog.pid")], {}


SYSLOG_NG_PLAIN = """destination d_out {{ file("{out}" template("$(format-json message=$MESSAGE file=$FILE_NAME)\\n")); }};
log {{ source(s_pods); destination(d_out); }};
"""
# json-parser reads the body after the CRI prefix (fixed width here, as for rsyslog); format-json writes the parsed
# fields back without their prefix.
SYSLOG_NG_PARSE = """parser p_json {{ json-parser(template("$(substr ${{MESSAGE}} 40)") prefix(".json.")); }};
rewrite r_shape {{
  unset(value(".json.trace_id"));
  set("$(lowercase ${{.json.level}})" value(".json.level"));
}};
parser p_time {{ date-parser(format("%Y-%m-%dT%H:%M:%S.%f%z") template("${{.json.ts}}")); }};
destination d_out {{ file("{out}" template("$(format-json --key .json.* --rekey .json.* --shift 6)\\n")); }};
log {{ source(s_pods); parser(p_json); rewrite(r_shape); parser(p_time); destination(d_out); }};
"""


def syslog_ng_command(args, pods_root, work, out):
    root = args.syslog_ng_root
    config = os.path.join(work, "syslog-ng.conf")
    with open(config, "w") as f:
        f.write(f"""@version: 3.38
options {{ stats-freq(0); log-fifo-size(100000); }};
source s_pods {{
  wildcard-file(base-dir("{pods_root}") filename-pattern("*.log") recursive(yes) flags(no-parse)
                follow-freq(1) max-files(100) log-fetch-limit(1000) log-iw-size(100000));
}};
{(SYSLOG_NG_PARSE if args.parse_json else SYSLOG_NG_PLAIN).format(out=out)}""")
    libraries = os.path.join(root, "usr/lib/syslog-ng")
    command = [os.path.join(root, "usr/sbin/syslog-ng"), "-F", "-f", config,
               f"--module-path={libraries}/3.38", f"--persist-file={work}/syslog-ng.persist",
               f"--pidfile={work}/syslog-ng.pid", f"--control={work}/syslog-ng.ctl"]
    return command, {"LD_LIBRARY_PATH": libraries}


AGENTS = {"petrel": petrel_command, "rsyslog": rsyslog_command, "syslog-ng": syslog_ng_command}


def run_once(args, agent, pods_root, expected, input_bytes, scratch):
    work = tempfile.mkdtemp(prefix=f"{agent}-", dir=scratch)
    out = os.path.join(work, "out.ndjson")
    command, extra_env = AGENTS[agent](args, pods_root, work, out)
    env = dict(os.environ, **extra_env)
    log = open(os.path.join(work, "agent.log"), "w")
    started = time.time()
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
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
    result = {
        "agent": agent, "lines": lines, "expected": expected, "cpu_seconds": round(cpu, 3),
        "wall_seconds": round(wall, 3), "lines_per_cpu_second": round(lines / cpu) if cpu else 0,
        "mib_per_second": round(input_bytes / (1 << 20) / wall, 1), "peak_rss_mib": round(rss, 1),
    }
    if lines < expected:
        result["incomplete"] = True
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--petrel", default=".build/release/petrel")
    parser.add_argument("--rsyslogd", default="/usr/sbin/rsyslogd")
    parser.add_argument("--syslog-ng-root", default="/opt/syslog-ng")
    parser.add_argument("--agents", default="petrel,rsyslog,syslog-ng")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--pods", type=int, default=20)
    parser.add_argument("--lines-per-pod", type=int, default=100000)
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--parse-json", action="store_true",
                        help="JSON messages, parsed and reshaped by each agent (see the module's description)")
    parser.add_argument("--keep", action="store_true", help="keep the files and each agent's output, to check them")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    agents = args.agents.split(",")
    scratch = tempfile.mkdtemp(prefix="logs-side-by-side-")
    try:
        pods_root = os.path.join(scratch, "pods")
        input_bytes = write_pods(pods_root, args.pods, args.lines_per_pod, args.parse_json)
        expected = args.pods * args.lines_per_pod
        print(f"{expected} lines, {input_bytes / (1 << 20):.1f} MiB in {args.pods} files", file=sys.stderr)
        runs = []
        for index in range(args.runs):
            order = agents[index % len(agents):] + agents[:index % len(agents)]
            for agent in order:
                result = run_once(args, agent, pods_root, expected, input_bytes, scratch)
                print(json.dumps(result), file=sys.stderr)
                runs.append(result)
    finally:
        if args.keep:
            print(f"kept {scratch}", file=sys.stderr)
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    print("| agent | lines per CPU-second | MiB/s | peak RSS (MiB) | complete runs |")
    print("| --- | --- | --- | --- | --- |")
    for agent in agents:
        mine = [r for r in runs if r["agent"] == agent]
        complete = [r for r in mine if not r.get("incomplete")]

        def median(key):
            return statistics.median(r[key] for r in complete) if complete else 0
        print(f"| {agent} | {median('lines_per_cpu_second'):,.0f} | {median('mib_per_second'):.1f} | "
              f"{median('peak_rss_mib'):.1f} | {len(complete)}/{len(mine)} |")
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"machine": os.uname().release, "pods": args.pods, "lines_per_pod": args.lines_per_pod,
                       "parse_json": args.parse_json, "runs": runs}, f, indent=1)


if __name__ == "__main__":
    main()
