#!/usr/bin/env python3
"""Memory per idle keep-alive connection.

Starts `portico serve` (one worker) on a mock route, opens N connections, sends one request on each
and reads the response (so each connection has been used and sits idle in keep-alive, its buffers
allocated), then compares the gateway's RSS with the RSS after the same process served one
connection. Bounded: connections are closed and the gateway stopped at the end.

    python3 loadtest/idle_memory.py [N]          # default 10000
    python3 loadtest/idle_memory.py [N] --tls    # the same over TLS (a P-256 certificate made with openssl)
"""
import os, select, signal, socket, ssl, subprocess, sys, tempfile, time

from idle_lib import BIN, free_port, rss_kib

args = [a for a in sys.argv[1:] if not a.startswith("--")]
N = int(args[0]) if args else 10000
TLS = "--tls" in sys.argv

port = free_port()
tls_port = free_port()
tls_conf = ""
ctx = None
if TLS:
    d = tempfile.mkdtemp()
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", f"{d}/key.pem", "-out", f"{d}/cert.pem", "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost"], check=True, capture_output=True)
    tls_conf = f'listen_tls = ["127.0.0.1:{tls_port}"]\n[tls]\ndefault_certificate = {{ cert = "{d}/cert.pem", key = "{d}/key.pem" }}'
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
cfg = tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False)
cfg.write(f"""
[server]
listen = ["127.0.0.1:{port}"]
workers = 1
backlog = 65535
{tls_conf}
[throttle]
enabled = false
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
    def connect():
        if TLS:
            return ctx.wrap_socket(socket.create_connection(("127.0.0.1", tls_port)), server_hostname="localhost")
        return socket.create_connection(("127.0.0.1", port))
    warm = connect(); use(warm)
    time.sleep(0.3)
    base = rss_kib(proc.pid)
    conns = []
    for i in range(N):
        s = connect()
        use(s)
        conns.append(s)
    time.sleep(1.0)
    loaded = rss_kib(proc.pid)
    per_conn = (loaded - base) * 1024 / N
    print(f"{'tls' if TLS else 'plain'} connections={N} rss_before_kib={base} rss_after_kib={loaded} per_idle_connection_bytes={per_conn:.0f} ({per_conn/1024:.2f} KiB)")
    for s in conns:
        s.close()
finally:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
    os.unlink(cfg.name)
