#!/usr/bin/env python3
"""Memory per idle keep-alive connection.

Starts `portico serve` (one worker) on a mock route, opens N connections, sends one request on each
and reads the response (so each connection has been used and sits idle in keep-alive, its buffers
allocated), then compares the gateway's RSS with the RSS after the same process served one
connection. Bounded: connections are closed and the gateway stopped at the end.

    python3 loadtest/idle_memory.py [N]      # default 10000
"""
import os, resource, select, signal, socket, subprocess, sys, tempfile, time

N = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "portico")

soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])

port = free_port()
cfg = tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False)
cfg.write(f"""
[server]
listen = ["127.0.0.1:{port}"]
workers = 1
backlog = 65535
[limits]
idle_timeout_ms = 600000
[[api]]
name = "m"
[[api.stage]]
name = "$default"
[[api.route]]
key = "GET /ping"
integration = {{ type = "mock", body = '{{"pong":true}}' }}
""")
cfg.close()
proc = subprocess.Popen([BIN, "serve", "-c", cfg.name], stderr=subprocess.DEVNULL)
try:
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port)).close(); break
        except OSError:
            time.sleep(0.05)
    req = b"GET /ping HTTP/1.1\r\nHost: a\r\n\r\n"
    def use(s):
        s.sendall(req)
        data = b""
        while b"\r\n\r\n" not in data or not data.endswith(b"}"):
            data += s.recv(4096)
    warm = socket.create_connection(("127.0.0.1", port)); use(warm)
    time.sleep(0.3)
    base = rss_kib(proc.pid)
    conns = []
    for i in range(N):
        s = socket.create_connection(("127.0.0.1", port))
        use(s)
        conns.append(s)
    time.sleep(1.0)
    loaded = rss_kib(proc.pid)
    per_conn = (loaded - base) * 1024 / N
    print(f"connections={N} rss_before_kib={base} rss_after_kib={loaded} per_idle_connection_bytes={per_conn:.0f} ({per_conn/1024:.2f} KiB)")
    for s in conns:
        s.close()
finally:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
    os.unlink(cfg.name)
