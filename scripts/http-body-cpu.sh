#!/bin/sh
# CPU seconds a petrel binary spends receiving large remote-write bodies, per body size.
# usage: scripts/http-body-cpu.sh BINARY SIZE_BYTES...   (e.g. .build/debug/petrel 16043212 17616076)
# Starts BINARY on ports 28686 (api) and 28201 (remote-write), POSTs 5 random bodies of each size (each answered
# 400: not snappy, so decoding costs nothing) and prints the process's user+system CPU for them; stops it by PID.
set -eu
binary=$1; shift
dir=$(mktemp -d)
cat > "$dir/petrel.yaml" <<YAML
api: { address: "127.0.0.1:28686" }
sources:
  rw: { type: prometheus_remote_write, address: "127.0.0.1:28201", max_body_size: 1GiB }
sinks:
  bh: { type: blackhole, inputs: [rw] }
YAML
"$binary" run --config "$dir/petrel.yaml" > "$dir/petrel.log" 2>&1 &
pid=$!
for _ in $(seq 50); do curl -sf http://127.0.0.1:28686/ready > /dev/null && break; sleep 0.2; done
for size in "$@"; do
    python3 - "$pid" "$size" <<'PY'
import os, socket, sys
pid, size = int(sys.argv[1]), int(sys.argv[2])
def cpu():
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
body = os.urandom(size)
head = f"POST /api/v1/write HTTP/1.1\r\nHost: x\r\nContent-Length: {size}\r\n\r\n".encode()
start = cpu()
for _ in range(5):
    with socket.create_connection(("127.0.0.1", 28201)) as s:
        s.sendall(head + body)
        status = s.recv(64).split(b" ")[1].decode()
print(f"{size / 2**20:6.1f} MiB x5: {cpu() - start:6.2f} s CPU (answered {status})")
PY
done
kill -TERM "$pid"
wait "$pid" || true
rm -rf "$dir"
