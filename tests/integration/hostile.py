"""hostile.py — hostile HTTP clients for hostile_test.sh (loopback only, bounded in time).

usage: hostile.py PORT CASE   → prints one line "CASE result..." and exits 0 when the server
behaved as documented (docs/api.md), 1 otherwise. Cases:
  probe FLAGFILE OUT   GET /healthz every 50 ms on fresh connections until FLAGFILE exists;
                       writes "max_ms failures count" to OUT
  slowloris N SECS     N connections send request headers one byte at a time for SECS seconds
  trickle              a chunked body of 1-byte chunks every 0.5 s: cut off after --request-timeout
  silent               Content-Length 1000, no body: the server closes the idle connection
  chunked_flood        a never-ending fast chunked body: cut off once 64 MiB past --max-body
  inflight N SIZE      N SIZE-byte bodies buffered at once: one over the budget gets 503
  conn_limit N         N idle connections: the ones over --max-connections are refused/closed
"""
import os
import socket
import sys
import threading
import time

HOST = "127.0.0.1"


def status_of(sock, timeout=15):
    sock.settimeout(timeout)
    data = b""
    try:
        while b"\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    except (socket.timeout, ConnectionResetError):
        pass
    line = data.split(b"\r\n", 1)[0].decode("latin1")
    parts = line.split(" ")
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None


def closed_within(sock, secs):
    sock.settimeout(secs)
    try:
        return sock.recv(1) == b""
    except socket.timeout:
        return False
    except ConnectionResetError:
        return True


def main():
    port, case = int(sys.argv[1]), sys.argv[2]
    if case == "probe":
        flag, out = sys.argv[3], sys.argv[4]
        worst, fails, n = 0.0, 0, 0
        while not os.path.exists(flag):
            t = time.time()
            try:
                s = socket.create_connection((HOST, port), timeout=2)
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                if status_of(s, 2) != 200:
                    fails += 1
                s.close()
            except OSError:
                fails += 1
            worst = max(worst, time.time() - t)
            n += 1
            time.sleep(0.05)
        open(out, "w").write(f"{worst * 1000:.1f} {fails} {n}\n")
        return 0
    if case == "slowloris":
        n, secs = int(sys.argv[3]), float(sys.argv[4])
        req = b"POST /v1/encode HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nX-Padding: " + b"a" * 4000
        socks = [socket.create_connection((HOST, port)) for _ in range(n)]
        end, i = time.time() + secs, 0
        while time.time() < end and i < len(req):
            for s in socks:
                try:
                    s.send(req[i:i + 1])
                except OSError:
                    pass
            i += 1
            time.sleep(0.1)
        for s in socks:
            s.close()
        print(f"slowloris {n} connections, {i} bytes each")
        return 0
    if case == "trickle":
        # 1-byte chunks every 0.5 s: the server cuts the connection after --request-timeout
        s = socket.create_connection((HOST, port))
        s.sendall(b"POST /v1/encode HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nTransfer-Encoding: chunked\r\n\r\n")
        t0, closed = time.time(), False
        while time.time() - t0 < 30 and not closed:
            try:
                s.sendall(b"1\r\nx\r\n")
            except OSError:
                closed = True
                break
            closed = closed_within(s, 0.5)
        dt = time.time() - t0
        print(f"trickle cut off after {dt:.1f} s" if closed else "trickle still open after 30 s")
        return 0 if closed and dt < 15 else 1
    if case == "silent":
        s = socket.create_connection((HOST, port))
        s.sendall(b"POST /v1/encode HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: 1000\r\n\r\n")
        t0 = time.time()
        ok = closed_within(s, 20)
        print(f"silent closed={ok} after {time.time() - t0:.1f} s")
        return 0 if ok else 1
    if case == "chunked_flood":
        # a fast body that never ends: dropped past --max-body, then cut off
        s = socket.create_connection((HOST, port))
        s.sendall(b"POST /v1/encode HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b"10000\r\n" + b"z" * 0x10000 + b"\r\n"
        sent, t0, closed = 0, time.time(), False
        s.settimeout(5)
        while time.time() - t0 < 60:
            try:
                s.sendall(chunk)
                sent += len(chunk)
            except OSError:
                closed = True
                break
        print(f"chunked_flood cut off after {sent >> 20} MiB, {time.time() - t0:.1f} s" if closed else "chunked_flood never cut off")
        return 0 if closed else 1
    if case == "inflight":
        # N bodies of SIZE bytes buffered at once: beyond --max-inflight-body one gets 503
        n, size = int(sys.argv[3]), int(sys.argv[4])
        socks = []
        for _ in range(n):
            s = socket.create_connection((HOST, port))
            s.sendall(b"POST /v1/encode HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: %d\r\n\r\n" % size)
            s.sendall(b"q" * (size - 10))
            socks.append(s)
            time.sleep(0.2)
        for s in socks:
            s.sendall(b"q" * 10)
        sts = [status_of(s) for s in socks]
        for s in socks:
            s.close()
        print(f"inflight statuses {sts}")
        return 0 if 503 in sts and sts.count(400) >= 1 else 1
    if case == "conn_limit":
        n = int(sys.argv[3])
        socks = []
        for _ in range(n):
            try:
                socks.append(socket.create_connection((HOST, port), timeout=2))
            except OSError:
                socks.append(None)
        time.sleep(0.5)
        refused = 0
        for s in socks:
            if s is None or closed_within(s, 0.05):
                refused += 1
        for s in socks:
            if s:
                s.close()
        print(f"conn_limit refused {refused} of {n}")
        print(refused, file=sys.stderr)
        return 0
    print("unknown case", case)
    return 2


if __name__ == "__main__":
    sys.exit(main())
