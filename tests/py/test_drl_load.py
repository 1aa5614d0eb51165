#!/usr/bin/python3
"""test_drl_load.py - bench/drl_load frames HTTP/1.1 responses correctly.

Runs $DRL_BUILD_DIR/drl_load for a fraction of a second per case against a small threaded HTTP
server in this process whose answers cover what a server may do: Content-Length bodies on a
keep-alive connection, chunked bodies (extensions, trailers, large bodies), Connection: close,
bodies delimited by the end of the connection, HTTP/1.0, 100 Continue, non-2xx statuses,
keep-alive connections dropped without notice (which drl_load must reopen and retry), and answers
that never come (timeouts: counted, not retried). The server checks that every POST body arrives
intact and counts the answers; drl_load's JSON line must agree with the count. Exits 77 (skipped) when drl_load is not built or DRL_BUILD_DIR is not set."""
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading

NAME = "test_drl_load"
BODY = bytes(range(256)) * 300 + b"end"  # 76803 bytes: the client's request body

passed = failed = 0


def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print(f"FAIL: {what}")
    return cond


class Server:
    """Answers by path; counts the answers it sent per path."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        self.lock = threading.Lock()
        self.answers = {}
        self.bad_bodies = 0
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.serve, args=(c,), daemon=True).start()

    def serve(self, c):
        f = c.makefile("rb")
        n = 0
        try:
            while True:
                line = f.readline()
                if not line:
                    return
                method, path, _ = line.decode().split(" ", 2)
                headers = {}
                while True:
                    h = f.readline().decode().rstrip("\r\n")
                    if not h:
                        break
                    k, v = h.split(":", 1)
                    headers[k.strip().lower()] = v.strip()
                body = f.read(int(headers.get("content-length", "0")))
                n += 1
                ok = method == "GET" or body == BODY
                if not ok:
                    with self.lock:
                        self.bad_bodies += 1
                with self.lock:  # counted before the client can see the answer
                    self.answers[path] = self.answers.get(path, 0) + 1
                keep = self.answer(c, path, n, ok)
                if not keep:
                    return
        except (OSError, ValueError):
            return
        finally:
            f.close()
            c.close()

    def answer(self, c, path, n, ok):
        """Sends one response; returns whether the connection stays open."""
        payload = b'{"embedding":[0.1,0.2]}'
        status = "200 OK" if ok else "400 Bad Request"
        if path == "/cl":
            c.sendall(b"HTTP/1.1 %s\r\nContent-Length: %d\r\n\r\n%s" % (status.encode(), len(payload), payload))
        elif path == "/chunked":
            big = b"x" * 150000
            c.sendall(b"HTTP/1.1 %s\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n"
                      b"5;ext=1\r\nhello\r\n%x\r\n%s\r\n1\r\n!\r\n0\r\nX-Trailer: yes\r\n\r\n"
                      % (status.encode(), len(big), big))
        elif path == "/close":
            c.sendall(b"HTTP/1.1 %s\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s"
                      % (status.encode(), len(payload), payload))
            return False
        elif path == "/eof":
            c.sendall(b"HTTP/1.1 %s\r\nContent-Type: text/plain\r\n\r\n%s" % (status.encode(), payload * 1000))
            return False
        elif path == "/http10":
            c.sendall(b"HTTP/1.0 %s\r\nContent-Length: %d\r\n\r\n%s" % (status.encode(), len(payload), payload))
            return False
        elif path == "/continue":
            c.sendall(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 %s\r\nContent-Length: %d\r\n\r\n%s"
                      % (status.encode(), len(payload), payload))
        elif path == "/drop":
            # Every third answer closes the connection afterwards without saying so, as an idle
            # timeout would: the client's next request on it fails before any byte comes back.
            c.sendall(b"HTTP/1.1 %s\r\nContent-Length: %d\r\n\r\n%s" % (status.encode(), len(payload), payload))
            if n % 3 == 0:
                c.shutdown(socket.SHUT_RDWR)
                return False
        elif path == "/status":
            s = b"503 Service Unavailable" if n % 2 == 0 else status.encode()
            c.sendall(b"HTTP/1.1 %s\r\nRetry-After: 1\r\nContent-Length: 2\r\n\r\n{}" % s)
        elif path == "/hang":
            # The first answer on a connection comes at once, the second never: a timeout, which
            # the client must count as a socket error and not retry.
            if n == 1:
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            else:
                c.settimeout(5)
                c.recv(1)
                return False
        elif path == "/nocontent":
            c.sendall(b"HTTP/1.1 204 No Content\r\n\r\n")
        else:
            c.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
        return True


def run(binary, url, *args):
    r = subprocess.run([binary, "--url", url, "--warmup", "0", "--json-out", *args],
                       capture_output=True, text=True, timeout=60)
    try:
        return r.returncode, json.loads(r.stdout), r.stderr
    except ValueError:
        print(f"drl_load {url}: exit {r.returncode}\n{r.stdout}\n{r.stderr}")
        return r.returncode, None, r.stderr


def main():
    build = os.environ.get("DRL_BUILD_DIR", "")
    binary = os.path.join(build, "drl_load")
    if not build or not os.access(binary, os.X_OK):
        print(f"{NAME}: drl_load not built (DRL_BUILD_DIR={build!r}), skipping")
        sys.exit(77)
    srv = Server()
    base = f"http://127.0.0.1:{srv.port}"
    with tempfile.TemporaryDirectory() as tmp:
        bodyf = os.path.join(tmp, "body.png")
        with open(bodyf, "wb") as f:
            f.write(BODY)
        cases = [  # path, post?, expect every answer 2xx, expect several connections
            ("/cl", True, True, False),
            ("/chunked", True, True, False),
            ("/close", True, True, True),
            ("/eof", False, True, True),
            ("/http10", True, True, True),
            ("/continue", True, True, False),
            ("/drop", True, True, True),
            ("/nocontent", False, True, False),
            ("/status", True, False, False),
        ]
        for path, post, all_ok, reconnects in cases:
            with srv.lock:
                before = srv.answers.get(path, 0)
            extra = ["--png", bodyf] if post else []
            rc, out, err = run(binary, base + path, "--concurrency", "4", "--duration", "0.4", *extra)
            if not check(out is not None, f"{path}: drl_load printed a JSON line"):
                continue
            with srv.lock:
                answered = srv.answers.get(path, 0) - before
            what = f"{path}: {json.dumps(out)}"
            check(rc == 0 and out["requests"] > 20, f"{what}: ran (exit {rc})")
            check(out["socket_errors"] == 0 and out["protocol_errors"] == 0, f"{what}: no socket errors")
            check(out["requests"] == answered, f"{what}: counted {out['requests']} = server's {answered}")
            check(out["method"] == ("POST" if post else "GET"), f"{what}: method")
            if all_ok:
                check(out["ok"] == out["requests"] and out["failures"] == 0, f"{what}: all 2xx")
            else:
                n503 = out["status"].get("503", 0)
                check(n503 > 0 and out["failures"] == n503 and out["ok"] + n503 == out["requests"],
                      f"{what}: 503s counted as failures by status")
            lat = out["latency_ms"]
            check(0 < lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["max"], f"{what}: latency order")
            if reconnects:
                check(out["connections"] > 4, f"{what}: reopened closed connections")
            else:
                check(out["connections"] == 4, f"{what}: one keep-alive connection per thread")
            if path == "/drop":
                check(out["stale_retries"] > 0, f"{what}: retried requests on dropped connections")
        check(srv.bad_bodies == 0, f"every POST body arrived intact ({srv.bad_bodies} did not)")
        # Nobody listening: socket errors, exit 2, no hang.
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
        s.close()
        rc, out, _ = run(binary, f"http://127.0.0.1:{dead}/x", "--concurrency", "2", "--duration", "0.2")
        check(rc == 2 and out is not None and out["ok"] == 0 and out["socket_errors"] > 0,
              f"refused connections are socket errors, exit 2 ({rc}, {out})")
        rc, out, _ = run(binary, base + "/hang", "--concurrency", "1", "--duration", "0.3",
                         "--timeout", "0.6")
        check(out is not None and out["ok"] == 1 and out["socket_errors"] == 1
              and out["stale_retries"] == 0 and out["duration_s"] < 2,
              f"a timeout is one socket error, not retried ({out})")
        r = subprocess.run([binary, "--url", "ftp://x/"], capture_output=True, timeout=10)
        check(r.returncode == 1, "a bad URL is a usage error")
    print(f"{NAME}: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
