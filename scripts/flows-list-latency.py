#!/usr/bin/env python3
"""Seeds N flows into a running FlowMate and measures list and get latency through the gateway.

Usage: scripts/flows-list-latency.py --url http://127.0.0.1:3000 --user admin@flowmate.local --password … [--flows 100000]

Flows are created through the public API in arrays of 1,000 (POST /flows). Then GET /flows?page[size]=50 (first
page, a deep page, a search) and GET /flows/{id} are each called --samples times over one keep-alive connection,
and p50/p99 are printed. Python's client adds roughly 0.1-0.3 ms per call; the numbers are an upper bound. Only
for servers on this machine (loopback).
"""

import argparse
import http.client
import json
import statistics
import time
import urllib.parse


def conn_for(url):
    u = urllib.parse.urlparse(url)
    return http.client.HTTPConnection(u.hostname, u.port or 80, timeout=60)


def call(conn, method, path, token=None, body=None):
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = "Bearer " + token
    conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
    r = conn.getresponse()
    data = r.read()
    return r.status, (json.loads(data) if data else None)


def flow(i):
    return {
        "name": f"flow {i:06d}",
        "description": "seeded for the list benchmark",
        "graph": {
            "nodes": [
                {"id": "step_1", "componentId": "webhook", "function": "receive"},
                {"id": "step_2", "componentId": "transform", "function": "map", "fields": {"expression": "data"}},
            ],
            "edges": [{"source": "step_1", "target": "step_2"}],
        },
    }


def measure(conn, token, path, samples):
    times = []
    for _ in range(samples):
        start = time.perf_counter()
        status, _ = call(conn, "GET", path, token)
        times.append((time.perf_counter() - start) * 1000)
        assert status == 200, (path, status)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.99) - 1]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--url", default="http://127.0.0.1:3000")
    p.add_argument("--user", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--flows", type=int, default=100_000)
    p.add_argument("--samples", type=int, default=300)
    a = p.parse_args()
    host = urllib.parse.urlparse(a.url).hostname
    assert host in ("127.0.0.1", "localhost", "::1"), "loopback only"
    conn = conn_for(a.url)
    status, body = call(conn, "POST", "/login", body={"username": a.user, "password": a.password})
    assert status == 200, body
    token = body["token"]
    _, existing = call(conn, "GET", "/flows?page[size]=1", token)
    have = existing["meta"]["total"]
    started = time.perf_counter()
    for batch in range(have, a.flows, 1000):
        items = [flow(i) for i in range(batch, min(batch + 1000, a.flows))]
        status, body = call(conn, "POST", "/flows", token, items)
        assert status == 201, body
    if a.flows > have:
        secs = time.perf_counter() - started
        print(f"seeded {a.flows - have} flows in {secs:.1f} s ({(a.flows - have) / secs:.0f} flows/s)")
    _, first = call(conn, "GET", "/flows?page[size]=1", token)
    one = first["data"][0]["id"]
    total = first["meta"]["total"]
    print(f"flows stored: {total}")
    for label, path in [
        ("GET /flows?page[size]=50 (first page)", "/flows?page[size]=50"),
        ("GET /flows?page[size]=50&page[number]=1000", "/flows?page[size]=50&page[number]=1000"),
        ("GET /flows?page[size]=50&sort=-updatedAt", "/flows?page[size]=50&sort=-updatedAt"),
        ("GET /flows?page[size]=50&search=flow%20099", "/flows?page[size]=50&search=flow%20099"),
        ("GET /flows/{id}", f"/flows/{one}"),
    ]:
        p50, p99 = measure(conn, token, path, a.samples)
        print(f"{label:45s} p50 {p50:7.2f} ms   p99 {p99:7.2f} ms")


if __name__ == "__main__":
    main()
