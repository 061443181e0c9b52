#!/usr/bin/python3
"""Concurrent clients for llp-serve's tests (Python standard library only).

  load.py same URL N_THREADS OUT.json      16 greedy and 8 seeded requests, first one
                                           at a time, then all at once from N_THREADS
                                           threads; writes both answer lists and the
                                           forward passes each took
  load.py soak URL SECONDS CONNS KEY EXPECTED.json OUT.json
                                           CONNS threads for SECONDS, each request
                                           drawn from: valid /predict (its answer
                                           checked against EXPECTED), a streamed chat,
                                           malformed JSON, an oversize body, no key,
                                           a client that disconnects mid-request or
                                           mid-stream, raw garbage; writes counts

Every loop is bounded in count and time; every socket has a timeout.
"""
import http.client
import json
import random
import socket
import sys
import threading
import time
import urllib.parse

TIMEOUT = 60


def conn_of(url):
    u = urllib.parse.urlparse(url)
    return http.client.HTTPConnection(u.hostname, u.port, timeout=TIMEOUT)


def post(conn, path, body, key=None, raw=False):
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = "Bearer " + key
    conn.request("POST", path, body if raw else json.dumps(body), headers)
    r = conn.getresponse()
    data = r.read()
    return r.status, data, r.getheader("Connection", "")


def metric(url, name, key=None):
    c = conn_of(url)
    c.request("GET", "/metrics", headers={"Authorization": "Bearer " + key} if key else {})
    text = c.getresponse().read().decode()
    c.close()
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


PROMPTS = ["the river %d runs" % i for i in range(16)]
SEEDED = ["sample %d" % i for i in range(8)]


def request_of(i):
    if i < len(PROMPTS):
        return {"text": PROMPTS[i], "max_tokens": 24, "temperature": 0}
    k = i - len(PROMPTS)
    return {"text": SEEDED[k], "max_tokens": 24, "temperature": 0.9, "top_p": 0.9, "seed": 1000 + k}


def same(url, n_threads, out):
    n = len(PROMPTS) + len(SEEDED)
    c = conn_of(url)
    p0 = metric(url, "llp_forward_passes_total")
    one = []
    for i in range(n):
        st, data, _ = post(c, "/predict", request_of(i))
        assert st == 200, (st, data)
        one.append(json.loads(data)["completion"])
    c.close()
    p1 = metric(url, "llp_forward_passes_total")
    many = [None] * n
    errors = []
    lock = threading.Lock()
    todo = list(range(n))

    def worker():
        cc = conn_of(url)
        while True:
            with lock:
                if not todo:
                    break
                i = todo.pop(0)
            try:
                st, data, _ = post(cc, "/predict", request_of(i))
                if st != 200:
                    errors.append((i, st, data.decode()))
                else:
                    many[i] = json.loads(data)["completion"]
            except Exception as e:  # recorded, the test fails on it
                errors.append((i, repr(e)))
                cc.close()
                cc = conn_of(url)
        cc.close()

    threads = [threading.Thread(target=worker) for _ in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT * 2)
    p2 = metric(url, "llp_forward_passes_total")
    json.dump({"one_by_one": one, "together": many, "errors": errors,
               "passes_one_by_one": p1 - p0, "passes_together": p2 - p1}, open(out, "w"))


# ---- the soak --------------------------------------------------------------------

def soak(url, seconds, conns, key, expected_path, out):
    expected = json.load(open(expected_path))
    u = urllib.parse.urlparse(url)
    stop_at = time.time() + seconds
    counts = {}
    wrong = []
    lock = threading.Lock()

    def count(kind, ok=True, detail=None):
        with lock:
            counts[kind] = counts.get(kind, 0) + 1
            if not ok:
                wrong.append((kind, detail))

    def raw_socket():
        s = socket.create_connection((u.hostname, u.port), timeout=TIMEOUT)
        return s

    def one(rng, conn):
        kind = rng.choice(["valid", "valid", "valid", "stream", "malformed", "wrongtype",
                           "oversize", "noauth", "disconnect", "disconnect_stream", "garbage"])
        if kind == "valid":
            i = rng.randrange(len(expected))
            st, data, _ = post(conn, "/predict", {"text": PROMPTS[i], "max_tokens": 24, "temperature": 0}, key)
            good = st == 200 and json.loads(data)["completion"] == expected[i]
            count("valid", good, (st, data[:200].decode("utf-8", "replace")))
            return conn
        if kind == "stream":
            body = {"messages": [{"role": "user", "content": PROMPTS[rng.randrange(16)]}],
                    "max_tokens": 12, "temperature": 0, "stream": True}
            st, data, _ = post(conn, "/v1/chat/completions", body, key)
            good = st == 200 and data.rstrip().endswith(b"data: [DONE]")
            count("stream", good, (st, data[-200:]))
            return conn
        if kind == "malformed":
            st, data, _ = post(conn, "/predict", b'{"text": "unfinished', key, raw=True)
            count("malformed", st == 400 and b'"invalid_json"' in data, (st, data[:200]))
            return conn
        if kind == "wrongtype":
            st, data, _ = post(conn, "/v1/completions", {"prompt": "x", "max_tokens": "many"}, key)
            count("wrongtype", st == 400 and b'"max_tokens"' in data, (st, data[:200]))
            return conn
        if kind == "oversize":
            st, data, hdr = post(conn, "/predict", b"x" * (70 * 1024), key, raw=True)
            count("oversize", st == 413, (st, data[:200]))
            conn.close()
            return conn_of(url)
        if kind == "noauth":
            if not key:
                return conn
            c2 = conn_of(url)
            st, data, _ = post(c2, "/predict", {"text": "x"}, None)
            c2.close()
            count("noauth", st == 401, (st, data[:200]))
            return conn
        if kind == "disconnect":
            s = raw_socket()
            body = json.dumps({"text": PROMPTS[0], "max_tokens": 200, "temperature": 0}).encode()
            s.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
                      (b"Authorization: Bearer " + key.encode() + b"\r\n" if key else b"") +
                      b"Content-Length: %d\r\n\r\n" % len(body) + body[: rng.randrange(len(body) + 1)])
            time.sleep(rng.random() * 0.05)
            s.close()
            count("disconnect")
            return conn
        if kind == "disconnect_stream":
            s = raw_socket()
            body = json.dumps({"prompt": PROMPTS[1], "max_tokens": 200, "temperature": 0, "stream": True}).encode()
            s.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\n" +
                      (b"Authorization: Bearer " + key.encode() + b"\r\n" if key else b"") +
                      b"Content-Length: %d\r\n\r\n" % len(body) + body)
            try:
                s.recv(rng.randrange(1, 2048))
            except OSError:
                pass
            s.close()
            count("disconnect_stream")
            return conn
        # garbage: not HTTP at all
        s = raw_socket()
        s.sendall(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300))) + b"\r\n\r\n")
        try:
            s.recv(4096)
        except OSError:
            pass
        s.close()
        count("garbage")
        return conn

    def worker(seed):
        rng = random.Random(seed)
        conn = conn_of(url)
        n = 0
        while time.time() < stop_at and n < 100000:
            n += 1
            try:
                conn = one(rng, conn)
            except Exception as e:
                count("exception", False, repr(e))
                try:
                    conn.close()
                except Exception:
                    pass
                conn = conn_of(url)
        conn.close()

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + TIMEOUT * 2)
    json.dump({"counts": counts, "wrong": wrong[:20], "n_wrong": len(wrong),
               "alive_threads": sum(t.is_alive() for t in threads)}, open(out, "w"), default=str)


if __name__ == "__main__":
    if sys.argv[1] == "same":
        same(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    elif sys.argv[1] == "soak":
        soak(sys.argv[2], float(sys.argv[3]), int(sys.argv[4]), sys.argv[5], sys.argv[6], sys.argv[7])
    elif sys.argv[1] == "expected":
        # the greedy answers of PROMPTS one at a time (the soak's reference)
        c = conn_of(sys.argv[2])
        key = sys.argv[3]
        res = []
        for p in PROMPTS:
            st, data, _ = post(c, "/predict", {"text": p, "max_tokens": 24, "temperature": 0}, key)
            assert st == 200, (st, data)
            res.append(json.loads(data)["completion"])
        json.dump(res, open(sys.argv[4], "w"))
    else:
        sys.exit("usage: load.py same|soak|expected ...")
