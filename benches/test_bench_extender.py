"""``topoplace extender`` under kube-scheduler's load: ``filter`` for one pod against 5,000
nodes, over real HTTP on loopback (target: median under 5 ms).

The server is the real command, ``python -m topoplace extender --state DIR``, in its own
process (so the client's JSON work does not share its interpreter), on a state of 5,000
``NodeResourceTopology`` objects: 2 NUMA nodes x 4 GPUs, 32 CPUs, 128Gi each,
``single-numa-node``, 0-4 GPUs free per NUMA node (seeded). The pod asks for 3 GPUs and 2
CPUs, so about two thirds of the nodes pass and the rest fail with a reason. Requests are the
``NodeNames`` form (``nodeCacheCapable: true``) on one keep-alive connection; the client reads
each answer's bytes and parses one to check it.

Cases: ``filter`` latency (one client; pytest-benchmark's median and ops/s), ``prioritize``
latency, and ``filter`` throughput with 4 concurrent clients (requests/s and percentiles in
``extra_info`` and printed).

Run: ``pytest benches/test_bench_extender.py --benchmark-only -s``.
"""

from __future__ import annotations

import http.client
import json
import random
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

NODES = 5000
GPU = "nvidia.com/gpu"


def state_objects(n: int, seed: int = 1) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        zones = []
        for z in range(2):
            free = rng.randint(0, 4)
            zones.append(
                {
                    "name": f"node-{z}",
                    "type": "Node",
                    "resources": [
                        {"name": "cpu", "allocatable": "32", "available": "32"},
                        {"name": "memory", "allocatable": "128Gi", "available": "128Gi"},
                        {"name": GPU, "allocatable": "4", "available": str(free)},
                    ],
                }
            )
        out.append(
            {
                "apiVersion": "topology.node.k8s.io/v1alpha2",
                "kind": "NodeResourceTopology",
                "metadata": {"name": f"gpu-{i:05d}"},
                "attributes": [{"name": "topologyManagerPolicy", "value": "single-numa-node"}],
                "zones": zones,
            }
        )
    return out


def pod(gpus: int) -> dict[str, Any]:
    return {
        "metadata": {"name": "bench", "namespace": "ml", "uid": "uid-bench"},
        "spec": {
            "containers": [
                {"name": "main", "resources": {"requests": {"cpu": "2"}, "limits": {GPU: gpus}}}
            ]
        },
    }


class Server:
    def __init__(self, proc: subprocess.Popen[str], port: int) -> None:
        self.proc = proc
        self.port = port
        self.names = [f"gpu-{i:05d}" for i in range(NODES)]
        self.body = json.dumps({"Pod": pod(3), "NodeNames": self.names}).encode()

    def connect(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)


def post(conn: http.client.HTTPConnection, path: str, body: bytes) -> bytes:
    conn.request("POST", path, body=body)
    resp = conn.getresponse()
    data = resp.read()
    assert resp.status == 200, data[:200]
    return data


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    state = tmp_path_factory.mktemp("extender-state")
    (state / "nrts.json").write_text(json.dumps(state_objects(NODES)))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "topoplace",
            "extender",
            "--listen",
            "127.0.0.1:0",
            "--state",
            str(state),
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        assert f"{NODES} nodes" in line, line
        srv = Server(proc, int(line.rsplit(":", 1)[1].split()[0]))
        conn = srv.connect()
        answer = json.loads(post(conn, "/filter", srv.body))
        conn.close()
        passed = len(answer["NodeNames"])
        assert passed + len(answer["FailedNodes"]) == NODES
        assert 0.5 * NODES < passed < 0.8 * NODES
        yield srv
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stderr is not None:
            proc.stderr.close()


def test_filter_latency_5000_nodes(benchmark: BenchmarkFixture, server: Server) -> None:
    conn = server.connect()
    try:
        benchmark.pedantic(
            post, args=(conn, "/filter", server.body), rounds=300, iterations=1, warmup_rounds=10
        )
    finally:
        conn.close()


def test_prioritize_latency_5000_nodes(benchmark: BenchmarkFixture, server: Server) -> None:
    conn = server.connect()
    try:
        data = benchmark.pedantic(
            post, args=(conn, "/prioritize", server.body), rounds=100, iterations=1
        )
    finally:
        conn.close()
    assert len(json.loads(data)) == NODES


def test_filter_throughput_4_clients(benchmark: BenchmarkFixture, server: Server) -> None:
    clients, per_client = 4, 100
    latencies: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        conn = server.connect()
        mine = []
        try:
            for _ in range(per_client):
                t0 = time.perf_counter()
                post(conn, "/filter", server.body)
                mine.append(time.perf_counter() - t0)
        finally:
            conn.close()
        with lock:
            latencies.extend(mine)

    def run() -> None:
        threads = [threading.Thread(target=worker) for _ in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)

    benchmark.pedantic(run, rounds=1, iterations=1)
    total = clients * per_client
    assert len(latencies) == total
    elapsed = benchmark.stats.stats.mean
    q = statistics.quantiles(latencies, n=100)
    info = {
        "requests_per_s": round(total / elapsed, 1),
        "p50_ms": round(q[49] * 1e3, 2),
        "p90_ms": round(q[89] * 1e3, 2),
        "p99_ms": round(q[98] * 1e3, 2),
    }
    benchmark.extra_info.update(info)
    print(f"\nfilter, {NODES} nodes, {clients} clients x {per_client}: {info}")
