#!/usr/bin/env python3
"""Memory per idle WebSocket connection.

Starts `portico serve` (one worker) on a WebSocket API, opens N connections (the upgrade, then one
message echoed back by a mock-like loopback backend, so each connection has been used and its
buffers allocated), then compares the gateway's RSS with the RSS after the same process served one
connection. The connections sit idle (no pings within the measurement). Bounded: connections are
closed and the gateway stopped at the end.

    python3 loadtest/ws_idle_memory.py [N]          # default 10000
    python3 loadtest/ws_idle_memory.py [N] --no-message   # upgraded, never used
"""
import base64, os, signal, socket, subprocess, sys, tempfile, threading, time

from idle_lib import BIN, free_port, rss_kib

args = [a for a in sys.argv[1:] if not a.startswith("--")]
N = int(args[0]) if args else 10000

# The backend: answers every POST with "ok" (keep-alive).
backend = socket.socket(); backend.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
backend.bind(("127.0.0.1", 0)); backend.listen(128)
backend_port = backend.getsockname()[1]


def serve_backend(c):
    buf = b""
    try:
        while True:
            while b"\r\n\r\n" not in buf:
                d = c.recv(65536)
                if not d:
                    return
                buf += d
            head, _, rest = buf.partition(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                k, _, v = line.partition(b":")
                if k.strip().lower() == b"content-length":
                    length = int(v)
            while len(rest) < length:
                rest += c.recv(65536)
            buf = rest[length:]
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    except OSError:
        return


def accept_backend():
    while True:
        try:
            c, _ = backend.accept()
        except OSError:
            return
        threading.Thread(target=serve_backend, args=(c,), daemon=True).start()


threading.Thread(target=accept_backend, daemon=True).start()

port = free_port()
cfg = tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False)
cfg.write(f"""
[server]
listen = ["127.0.0.1:{port}"]
workers = 1
backlog = 65535
[throttle]
enabled = false
[[api]]
name = "ws"
protocol = "websocket"
websocket = {{ ping_interval_ms = 600000, idle_timeout_ms = 1200000 }}
[[api.stage]]
name = "prod"
[[api.route]]
key = "$default"
route_response = true
integration = {{ type = "http_proxy", uri = "http://127.0.0.1:{backend_port}/m" }}
""")
cfg.close()

UPGRADE = (b"GET /prod HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           b"Sec-WebSocket-Key: " + base64.b64encode(os.urandom(16)) + b"\r\nSec-WebSocket-Version: 13\r\n\r\n")
# A masked text frame "hi" (mask 0, so the payload is as written).
MESSAGE = b"\x81\x82\x00\x00\x00\x00hi"

proc = subprocess.Popen([BIN, "serve", "-c", cfg.name], stderr=subprocess.DEVNULL)
try:
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port)).close(); break
        except OSError:
            time.sleep(0.05)

    def open_one():
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(UPGRADE)
        data = b""
        while b"\r\n\r\n" not in data:
            data += s.recv(4096)
        assert data.startswith(b"HTTP/1.1 101"), data
        rest = data.partition(b"\r\n\r\n")[2]
        if "--no-message" in sys.argv:
            return s
        s.sendall(MESSAGE)
        while len(rest) < 4:  # the echoed "ok": 0x81 0x02 'o' 'k'
            rest += s.recv(4096)
        assert rest[:4] == b"\x81\x02ok", rest
        return s

    warm = open_one()
    time.sleep(0.3)
    base = rss_kib(proc.pid)
    conns = []
    started = time.time()
    for i in range(N):
        conns.append(open_one())
    opened_s = time.time() - started
    time.sleep(1.0)
    loaded = rss_kib(proc.pid)
    per_conn = (loaded - base) * 1024 / N
    print(f"websocket connections={N} opened_in_s={opened_s:.1f} rss_before_kib={base} rss_after_kib={loaded} "
          f"per_idle_connection_bytes={per_conn:.0f} ({per_conn/1024:.2f} KiB)")
    for s in conns:
        s.close()
finally:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
    os.unlink(cfg.name)
    backend.close()
