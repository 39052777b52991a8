"""``topoplace extender``: the real server on loopback, driven by real HTTP requests.

Covers the verbs in both of kube-scheduler's forms (``NodeNames`` and a ``Nodes`` NodeList),
NUMA alignment per Topology Manager policy, scores, bind and its state file, every malformed
input class (bad JSON, wrong shapes naming the field, bad HTTP), concurrency, the command
line, and a bounded load test on 5,000 nodes (sanity only; ``benches/test_bench_extender.py``
measures).
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
from pathlib import Path
from typing import Any

import pytest

from topoplace.extender import ExtenderServer, ExtenderState, make_server, serve_in_thread
from topoplace.extender.state import BOUND_FILE

GPU = "nvidia.com/gpu"


def nrt(name: str, policy: str, zones: list[tuple[int, int]]) -> dict[str, Any]:
    """An NRT whose NUMA nodes have (allocatable, available) GPUs, 32 CPUs and 128Gi each."""
    return {
        "apiVersion": "topology.node.k8s.io/v1alpha2",
        "kind": "NodeResourceTopology",
        "metadata": {"name": name},
        "attributes": [{"name": "topologyManagerPolicy", "value": policy}],
        "zones": [
            {
                "name": f"node-{z}",
                "type": "Node",
                "resources": [
                    {"name": "cpu", "capacity": "32", "allocatable": "32", "available": "32"},
                    {"name": "memory", "allocatable": "128Gi", "available": "128Gi"},
                    {"name": GPU, "allocatable": str(alloc), "available": str(avail)},
                ],
            }
            for z, (alloc, avail) in enumerate(zones)
        ],
    }


def node(name: str, gpus: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
        "status": {"allocatable": {"cpu": "64", "memory": "256Gi", GPU: str(gpus), "pods": "110"}},
    }


SMALL_NRTS = [
    nrt("snn", "single-numa-node", [(4, 1), (4, 2)]),  # 3 free GPUs, at most 2 on one NUMA
    nrt("none", "none", [(4, 1), (4, 2)]),
    nrt("small", "single-numa-node", [(2, 2), (2, 2)]),  # 3 on one NUMA node never fits
    nrt("restricted", "restricted", [(4, 1), (4, 2)]),
    nrt("free", "single-numa-node", [(4, 4), (4, 4)]),
]
SMALL_NODES = [node("snn", 8), node("none", 8), node("small", 4), node("restricted", 8)]


def pod(name: str, gpus: int, *, uid: str | None = None, cpu: str = "2") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "ml", "uid": uid or f"uid-{name}"},
        "spec": {
            "containers": [
                {"name": "main", "resources": {"requests": {"cpu": cpu}, "limits": {GPU: gpus}}}
            ]
        },
    }


class Client:
    """One keep-alive connection to the server."""

    def __init__(self, server: ExtenderServer) -> None:
        host, port = server.server_address[:2]
        self.conn = http.client.HTTPConnection(str(host), int(port), timeout=30)

    def raw(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        self.conn.request(method, path, body=body, headers=headers or {})
        resp = self.conn.getresponse()
        data = resp.read()
        ctype = resp.getheader("Content-Type", "")
        return resp.status, json.loads(data) if ctype == "application/json" else data

    def post(self, verb: str, body: object) -> tuple[int, Any]:
        return self.raw("POST", f"/topoplace/{verb}", json.dumps(body).encode())

    def close(self) -> None:
        self.conn.close()


def running(state: ExtenderState) -> Iterator[ExtenderServer]:
    server = make_server(state)
    thread = serve_in_thread(server)
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ExtenderServer]:
    state = ExtenderState.from_objects(SMALL_NODES, SMALL_NRTS, bound_path=tmp_path / BOUND_FILE)
    yield from running(state)


@pytest.fixture
def client(server: ExtenderServer) -> Iterator[Client]:
    c = Client(server)
    yield c
    c.close()


ALL = ["snn", "none", "small", "restricted", "free", "elsewhere"]


def test_filter_node_names(client: Client) -> None:
    status, body = client.post("filter", {"Pod": pod("p3", 3), "NodeNames": ALL})
    assert status == 200
    assert body["Nodes"] is None
    assert body["NodeNames"] == ["none", "free", "elsewhere"]
    assert set(body["FailedNodes"]) == {"snn", "restricted"}
    assert "no single NUMA node has room" in body["FailedNodes"]["snn"]
    assert body["FailedNodes"]["restricted"].startswith("topoplace: restricted policy:")
    assert set(body["FailedAndUnresolvableNodes"]) == {"small"}
    assert body["Error"] == ""


def test_filter_node_list_answers_node_list(client: Client) -> None:
    nodes = {"metadata": {}, "items": [node(n, 8) for n in ("snn", "none")]}
    status, body = client.post("filter", {"Pod": pod("p2", 2), "Nodes": nodes})
    assert status == 200
    assert body["NodeNames"] is None
    assert [n["metadata"]["name"] for n in body["Nodes"]["items"]] == ["snn", "none"]
    assert body["Nodes"]["items"][0] == node("snn", 8)
    status, body = client.post("filter", {"Pod": pod("p3", 3), "Nodes": nodes})
    assert [n["metadata"]["name"] for n in body["Nodes"]["items"]] == ["none"]


def test_field_names_are_case_insensitive_as_in_go(client: Client) -> None:
    status, body = client.post("filter", {"pod": pod("p3", 3), "nodenames": ["snn", "none"]})
    assert status == 200 and body["NodeNames"] == ["none"]
    status, body = client.post("filter", {"Pod": pod("a", 1), "pod": pod("b", 1)})
    assert status == 400 and "Pod given twice" in body["Error"]


def test_prioritize_scores(client: Client) -> None:
    status, body = client.post("prioritize", {"Pod": pod("p2", 2), "NodeNames": ALL})
    assert status == 200
    scores = {h["Host"]: h["Score"] for h in body}
    assert list(scores) == ALL
    assert all(0 <= s <= 10 for s in scores.values())
    # One NUMA node holds exactly this pod: aligned (5) + tightest (4) + 1.
    assert scores["snn"] == scores["none"] == scores["restricted"] == 10
    assert scores["small"] == 8  # entirely free, 2 such pods fit: 1 + 5 + 3 - 1
    # Entirely free, 4 such pods fit aligned: 1 + 5 + 2 - 1 (whole node kept).
    assert scores["free"] == 7
    assert scores["elsewhere"] == 0
    status, body = client.post("prioritize", {"Pod": pod("p3", 3), "NodeNames": ALL})
    scores = {h["Host"]: h["Score"] for h in body}
    assert scores["snn"] == scores["small"] == scores["restricted"] == 0
    assert scores["none"] == 5  # fits only across NUMA nodes: 1 + 0 + 4
    assert scores["free"] == 8  # one on each NUMA node: 1 + 5 + 3 - 1


def test_bind_takes_room_and_survives_restart(client: Client, tmp_path: Path) -> None:
    assert client.post("filter", {"Pod": pod("a", 2), "NodeNames": ["snn"]})[1]["NodeNames"]
    status, body = client.post(
        "bind", {"PodName": "a", "PodNamespace": "ml", "PodUID": "uid-a", "Node": "snn"}
    )
    assert (status, body) == (200, {"Error": ""})
    # Binding again to the same node is idempotent; to another node an error.
    again = {"PodName": "a", "PodNamespace": "ml", "PodUID": "uid-a", "Node": "snn"}
    assert client.post("bind", again)[1] == {"Error": ""}
    moved = client.post("bind", {**again, "Node": "none"})[1]
    assert "already bound to snn" in moved["Error"]
    status, body = client.post("filter", {"Pod": pod("b", 2), "NodeNames": ["snn", "none"]})
    assert body["NodeNames"] == ["none"]
    assert "snn" in body["FailedNodes"]  # room is taken, not unresolvable
    lines = (tmp_path / BOUND_FILE).read_text().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["node"] == "snn"
    restarted = ExtenderState.from_objects(
        SMALL_NODES, SMALL_NRTS, bound_path=tmp_path / BOUND_FILE
    )
    assert restarted.bound == {"uid-a": "snn"}
    passed, failed, _ = restarted.filter(_info("b", 2), ["snn"])
    assert passed == [] and "snn" in failed


def _info(name: str, gpus: int) -> Any:
    from topoplace.extender.protocol import extender_args

    return extender_args({"Pod": pod(name, gpus), "NodeNames": []}).pod


def test_bound_file_torn_last_line_and_corrupt_line(tmp_path: Path) -> None:
    from topoplace.errors import InvalidValueError

    path = tmp_path / BOUND_FILE
    good = {"uid": "u1", "namespace": "ml", "name": "a", "node": "snn", "request": {GPU: 2}}
    path.write_text(json.dumps(good) + "\n" + '{"uid": "u2", "na')
    state = ExtenderState.from_objects(SMALL_NODES, SMALL_NRTS, bound_path=path)
    assert state.bound == {"u1": "snn"}
    path.write_text("not json\n" + json.dumps(good) + "\n")
    with pytest.raises(InvalidValueError, match="bound.jsonl:1: not a bound-pod record"):
        ExtenderState.from_objects(SMALL_NODES, SMALL_NRTS, bound_path=path)


def test_bind_of_unseen_pod_or_full_node_is_an_error_result(client: Client) -> None:
    status, body = client.post("bind", {"PodName": "ghost", "PodUID": "u", "Node": "snn"})
    assert status == 200 and "was not seen" in body["Error"]
    client.post("filter", {"Pod": pod("big", 3), "NodeNames": ["snn"]})
    status, body = client.post("bind", {"PodName": "big", "PodUID": "uid-big", "Node": "snn"})
    assert status == 200 and "no longer fits on snn" in body["Error"]


def test_malformed_json_is_400(client: Client) -> None:
    for raw in (b"{", b"", b"\xff\xfe", b'{"Pod": }', b"[" * 100_000):
        status, body = client.raw("POST", "/filter", raw)
        assert status == 400, raw[:10]
        assert body["Error"].startswith("invalid JSON"), body


@pytest.mark.parametrize(
    ("verb", "body", "field"),
    [
        ("filter", [], "ExtenderArgs: expected an object, got array"),
        ("filter", {"NodeNames": []}, "Pod: missing"),
        ("filter", {"Pod": "x", "NodeNames": []}, "Pod: expected an object, got string"),
        ("filter", {"Pod": pod("p", 1)}, "Nodes, NodeNames: missing"),
        ("filter", {"Pod": pod("p", 1), "NodeNames": "snn"}, "NodeNames: expected an array"),
        ("filter", {"Pod": pod("p", 1), "NodeNames": ["snn", 3]}, "NodeNames[1]: expected"),
        ("filter", {"Pod": pod("p", 1), "NodeNames": ["a", "a"]}, "NodeNames[1]: node 'a'"),
        ("filter", {"Pod": pod("p", 1), "Nodes": {"items": [{}]}}, "Nodes.items[0].metadata:"),
        ("filter", {"Pod": pod("p", 1), "Nodes": {"items": 1}}, "Nodes.items: expected an array"),
        (
            "filter",
            {"Pod": pod("p", 1), "Nodes": {"items": []}, "NodeNames": []},
            "give one, not both",
        ),
        ("prioritize", {"Pod": {"spec": {}}, "NodeNames": []}, "Pod.metadata.name: missing"),
        (
            "prioritize",
            {"Pod": {"metadata": {"name": "p"}, "spec": {}}, "NodeNames": []},
            "Pod.spec.containers: missing",
        ),
        (
            "filter",
            {"Pod": pod("p", 1, cpu="two"), "NodeNames": []},
            "Pod.spec.containers[0].resources.requests.cpu: 'two' is not a Kubernetes quantity",
        ),
        ("bind", {"PodName": "p"}, "Node: missing"),
        ("bind", {"PodName": 1, "Node": "snn"}, "PodName: expected a string, got number"),
        ("bind", "x", "ExtenderBindingArgs: expected an object"),
    ],
)
def test_wrong_shapes_are_400_naming_the_field(
    client: Client, verb: str, body: object, field: str
) -> None:
    status, answer = client.post(verb, body)
    assert status == 400
    assert field in answer["Error"], answer


def test_http_errors(client: Client, server: ExtenderServer) -> None:
    assert client.raw("POST", "/unknown", b"{}")[0] == 404
    assert client.raw("GET", "/healthz") == (200, b"ok")
    assert client.raw("GET", "/filter")[0] == 405
    assert client.raw("PUT", "/filter", b"{}")[0] == 405
    # No Content-Length: refused, and the connection closed.
    host, port = server.server_address[:2]
    conn = http.client.HTTPConnection(str(host), int(port), timeout=10)
    conn.putrequest("POST", "/filter")
    conn.endheaders()
    assert conn.getresponse().status == 411
    conn.close()
    other = Client(server)
    status, _ = other.raw("POST", "/filter", b"{}", {"Content-Length": "-3"})
    assert status == 400
    other.close()


def test_random_bodies_never_crash_the_server(client: Client) -> None:
    rng = random.Random(7)
    good = json.dumps({"Pod": pod("p", 1), "NodeNames": ["snn"]})
    for _ in range(300):
        chars = list(good)
        for _ in range(rng.randint(1, 6)):
            chars[rng.randrange(len(chars))] = rng.choice('{}[]",:0a -\\')
        status, body = client.raw(
            "POST", rng.choice(["/filter", "/prioritize", "/bind"]), "".join(chars).encode()
        )
        assert status in (200, 400), body
    assert client.raw("GET", "/healthz") == (200, b"ok")


@pytest.mark.timeout(60)
def test_concurrent_requests_and_binds(server: ExtenderServer) -> None:
    errors: list[str] = []
    bound: list[str] = []
    lock = threading.Lock()

    def worker(w: int) -> None:
        c = Client(server)
        try:
            for j in range(20):
                name = f"w{w}-{j}"
                status, body = c.post("filter", {"Pod": pod(name, 1), "NodeNames": ALL})
                if status != 200:
                    errors.append(f"filter {status}")
                status, _ = c.post("prioritize", {"Pod": pod(name, 1), "NodeNames": ALL})
                if status != 200:
                    errors.append(f"prioritize {status}")
                if j < 3:
                    args = {"PodName": name, "PodNamespace": "ml", "PodUID": f"uid-{name}"}
                    status, body = c.post("bind", {**args, "Node": "free"})
                    if body["Error"] == "":
                        with lock:
                            bound.append(name)
        finally:
            c.close()

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=50)
    assert not errors
    # 24 binds of 1 GPU raced for the 8 free GPUs of `free`: exactly 8 won.
    assert len(bound) == 8
    assert server.state.live.free("free")[GPU] == 0


def big_state(n: int, seed: int = 1) -> ExtenderState:
    """``n`` nodes of 2 NUMA nodes x 4 GPUs; single-numa-node; 0-4 GPUs taken a NUMA node."""
    rng = random.Random(seed)
    nrts = [
        nrt(f"gpu-{i:05d}", "single-numa-node", [(4, rng.randint(0, 4)), (4, rng.randint(0, 4))])
        for i in range(n)
    ]
    return ExtenderState.from_objects([], nrts)


@pytest.mark.timeout(120)
def test_load_5000_nodes_bounded() -> None:
    """200 filter requests from 4 keep-alive clients against 5,000 nodes; prints the rate and
    latency percentiles, asserts only that every answer is whole and right."""
    state = big_state(5000)
    names = list(state.names)
    expected = sum(1 for k, _ in state.live.node_fits(_gang_of(3)).values() if k)
    body = json.dumps({"Pod": pod("load", 3), "NodeNames": names}).encode()
    latencies: list[float] = []
    lock = threading.Lock()
    for server in running(state):

        def worker(server: ExtenderServer = server) -> None:
            c = Client(server)
            mine = []
            try:
                for _ in range(50):
                    t0 = time.perf_counter()
                    status, answer = c.raw("POST", "/filter", body)
                    mine.append(time.perf_counter() - t0)
                    assert status == 200
                    assert len(answer["NodeNames"]) == expected
                    assert len(answer["NodeNames"]) + len(answer["FailedNodes"]) + len(
                        answer["FailedAndUnresolvableNodes"]
                    ) == len(names)
            finally:
                c.close()
            with lock:
                latencies.extend(mine)

        start = time.perf_counter()
        threads = [threading.Thread(target=worker) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=100)
        elapsed = time.perf_counter() - start
    assert len(latencies) == 200
    q = statistics.quantiles(latencies, n=100)
    print(
        f"\nextender filter, 5,000 nodes, 4 clients: {len(latencies) / elapsed:.0f} req/s, "
        f"p50 {q[49] * 1e3:.2f} ms, p90 {q[89] * 1e3:.2f} ms, p99 {q[98] * 1e3:.2f} ms"
    )


def _gang_of(gpus: int) -> dict[str, Any]:
    return {"name": "g", "groups": [{"name": "p", "count": 1, "request": {"cpu": "2", GPU: gpus}}]}


def test_state_dir_and_command_line(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    state_dir.mkdir()
    (state_dir / "nodes.json").write_text(json.dumps({"kind": "List", "items": SMALL_NODES}))
    (state_dir / "nrts.json").write_text(json.dumps(SMALL_NRTS))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "topoplace",
            "extender",
            "--listen",
            "127.0.0.1:0",
            "--state",
            str(state_dir),
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        assert "5 nodes, 0 bound pods" in line, line
        port = int(line.rsplit(":", 1)[1].split()[0])
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("POST", "/filter", json.dumps({"Pod": pod("p", 3), "NodeNames": ALL}))
        answer = json.loads(conn.getresponse().read())
        assert answer["NodeNames"] == ["none", "free", "elsewhere"]
        conn.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stderr is not None:
            proc.stderr.close()


def test_bad_state_dir_is_an_error(tmp_path: Path) -> None:
    from topoplace.cli import main

    assert main(["extender", "--state", str(tmp_path / "missing")]) == 1
    (tmp_path / "x.json").write_text("{}")
    assert main(["extender", "--state", str(tmp_path)]) == 1
