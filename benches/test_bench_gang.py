"""Gang placement on the cluster of issue #6: 500 nodes a block (25 racks x 20 hosts), each
8 GPUs on 2 NUMA nodes under `single-numa-node`, 60 % of the GPUs taken at random (seeded).

Side by side on the same inputs (`gang_plain.py`; `test_gang_plain_agrees.py` checks that
the answers agree): `test_X_topoplace` (`Cluster.place` from a gang dict, reading
`.feasible`; the pods stay native), `test_X_plain_python` (the same counting and greedy over
lists) and `test_X_numpy` (the same with numpy arrays; the pods stay two arrays). Both peers
recount every node's fit from its per-NUMA free amounts on every call; their lists and arrays
are built from the spec once, outside the timing, while topoplace parses the gang's dict on
every call.

Cases: a 512-pod x 1-GPU gang (12 CPUs, 96Gi; required block, preferred rack) at 5,000
nodes, and at 10,000 and 50,000 (topoplace and numpy); a 2,000-pod gang no block holds
(topoplace also reads the reasons; the peers only say no); building the 10,000-node cluster
from the interchange dict; placing and committing 1,000 gangs of 1 to 64 pods in turn.

Run: `pytest benches/test_bench_gang.py --benchmark-only`.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path
from typing import Any

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

sys.path.insert(0, str(Path(__file__).parent))

from gang_numpy import NumpyCluster, place_numpy  # noqa: E402
from gang_plain import (  # noqa: E402
    GPU,
    Group,
    PlainCluster,
    amount,
    benchmark_cluster,
    benchmark_gang,
    place_plain,
    prepare_gang,
)

from topoplace.cluster import Cluster  # noqa: E402

FEASIBLE = benchmark_gang(512)
INFEASIBLE = benchmark_gang(2000, name="too-big")  # a block has about 1,600 free GPUs


class _Case:
    """One benchmark cluster as topoplace, plain lists (optional) and numpy arrays, with the
    two gangs prepared for the peers."""

    def __init__(self, nodes: int, plain: bool = True) -> None:
        self.spec = benchmark_cluster(nodes)
        self.topoplace = Cluster(self.spec)
        lists = PlainCluster.from_spec(self.spec)
        self.plain = lists if plain else None
        self.numpy = NumpyCluster.from_plain(lists)
        self.feasible: list[Group] = prepare_gang(FEASIBLE, lists)
        self.infeasible: list[Group] = prepare_gang(INFEASIBLE, lists)


@pytest.fixture(scope="module")
def c5000() -> _Case:
    return _Case(5000)


@pytest.fixture(scope="module")
def c10000() -> _Case:
    return _Case(10000, plain=False)


@pytest.fixture(scope="module")
def c50000() -> _Case:
    return _Case(50000, plain=False)


def _place(cluster: Cluster, gang: dict[str, Any]) -> bool:
    return cluster.place(gang).feasible


def _refuse(cluster: Cluster, gang: dict[str, Any]) -> list[str]:
    placed = cluster.place(gang)
    assert not placed.feasible
    return placed.reasons


# --- 512 pods at 5,000 nodes --------------------------------------------------------------


def test_gang512_5000_topoplace(benchmark: BenchmarkFixture, c5000: _Case) -> None:
    assert benchmark(_place, c5000.topoplace, FEASIBLE) is True


def test_gang512_5000_plain_python(benchmark: BenchmarkFixture, c5000: _Case) -> None:
    assert c5000.plain is not None
    pods = benchmark(place_plain, c5000.plain, c5000.feasible)
    assert pods is not None and len(pods) == 512


def test_gang512_5000_numpy(benchmark: BenchmarkFixture, c5000: _Case) -> None:
    placed = benchmark(place_numpy, c5000.numpy, c5000.feasible)
    assert placed is not None and len(placed[0]) == 512


# --- a gang no block holds ----------------------------------------------------------------


def test_gang_infeasible_5000_topoplace(benchmark: BenchmarkFixture, c5000: _Case) -> None:
    assert benchmark(_refuse, c5000.topoplace, INFEASIBLE)


def test_gang_infeasible_5000_plain_python(benchmark: BenchmarkFixture, c5000: _Case) -> None:
    assert c5000.plain is not None
    assert benchmark(place_plain, c5000.plain, c5000.infeasible) is None


def test_gang_infeasible_5000_numpy(benchmark: BenchmarkFixture, c5000: _Case) -> None:
    assert benchmark(place_numpy, c5000.numpy, c5000.infeasible) is None


# --- scaling ------------------------------------------------------------------------------


def test_gang512_10000_topoplace(benchmark: BenchmarkFixture, c10000: _Case) -> None:
    assert benchmark(_place, c10000.topoplace, FEASIBLE) is True


def test_gang512_10000_numpy(benchmark: BenchmarkFixture, c10000: _Case) -> None:
    placed = benchmark(place_numpy, c10000.numpy, c10000.feasible)
    assert placed is not None and len(placed[0]) == 512


def test_gang512_50000_topoplace(benchmark: BenchmarkFixture, c50000: _Case) -> None:
    assert benchmark(_place, c50000.topoplace, FEASIBLE) is True


def test_gang512_50000_numpy(benchmark: BenchmarkFixture, c50000: _Case) -> None:
    placed = benchmark(place_numpy, c50000.numpy, c50000.feasible)
    assert placed is not None and len(placed[0]) == 512


# --- building and committing --------------------------------------------------------------


def _arrays(spec: dict[str, Any]) -> dict[str, Any]:
    """The benchmark cluster as the arrays `Cluster.from_arrays` takes (built untimed)."""
    import numpy as np

    nodes = spec["nodes"]
    res = ["cpu", "memory", GPU]

    def row(amounts: dict[str, Any]) -> list[int]:
        return [amount(r, amounts.get(r, 0)) for r in res]

    levels = {}
    for key in spec["levels"]:
        values = sorted({n["labels"][key] for n in nodes})
        index = {v: i for i, v in enumerate(values)}
        levels[key] = (np.array([index[n["labels"][key]] for n in nodes]), values)
    return {
        "names": [n["name"] for n in nodes],
        "resources": res,
        "capacity": np.array([row(n["capacity"]) for n in nodes], dtype=np.int64),
        "levels": levels,
        "used": np.array([row(n.get("used", {})) for n in nodes], dtype=np.int64),
        "numa": np.array([[row(z) for z in n["numa"]] for n in nodes], dtype=np.int64),
        "numa_used": np.array([[row(z) for z in n["numa_used"]] for n in nodes], dtype=np.int64),
        "single_numa": np.ones(len(nodes), dtype=bool),
    }


def test_build_cluster_10000_from_arrays_topoplace(
    benchmark: BenchmarkFixture, c10000: _Case
) -> None:
    """`Cluster.from_arrays` of the 10,000-node cluster (issue target: under 20 ms); it
    places the benchmark gang as the dict-built cluster does."""
    a = _arrays(c10000.spec)
    cluster = benchmark(
        Cluster.from_arrays,
        a["names"],
        a["resources"],
        a["capacity"],
        a["levels"],
        used=a["used"],
        numa=a["numa"],
        numa_used=a["numa_used"],
        single_numa=a["single_numa"],
    )
    assert len(cluster.node_names()) == 10000
    assert cluster.place(FEASIBLE).pods == c10000.topoplace.place(FEASIBLE).pods


def test_build_cluster_10000_from_dict_topoplace(
    benchmark: BenchmarkFixture, c10000: _Case
) -> None:
    """`Cluster(spec)` from the interchange dict (serialised to JSON and parsed); the issue's
    "from numpy arrays" case is the next benchmark."""
    cluster = benchmark.pedantic(Cluster, args=(c10000.spec,), rounds=5, iterations=1)
    assert len(cluster.node_names()) == 10000


def _mixed_gangs(count: int = 1000, seed: int = 11) -> list[dict[str, Any]]:
    """`count` gangs of 1 to 64 one-GPU pods (sizes drawn from 1, 2, 4, ..., 64), each as
    the benchmark gang: required block, preferred rack."""
    rng = random.Random(seed)
    return [benchmark_gang(rng.choice([1, 2, 4, 8, 16, 32, 64]), f"g{i}") for i in range(count)]


def test_commit_1000_gangs_topoplace(benchmark: BenchmarkFixture, c5000: _Case) -> None:
    """One round: place and commit 1,000 gangs in turn on a fresh copy of the 5,000-node
    cluster (those that no longer fit are refused, with reasons, and not committed)."""
    gangs = _mixed_gangs()
    text = json.dumps(c5000.spec)
    committed: list[int] = []

    def fresh() -> tuple[tuple[Cluster], dict[str, Any]]:
        return (Cluster(text),), {}

    def run(cluster: Cluster) -> None:
        placed = 0
        for gang in gangs:
            p = cluster.place(gang)
            if p.feasible:
                cluster.commit(p)
                placed += 1
        committed.append(placed)

    benchmark.pedantic(run, setup=fresh, rounds=1, iterations=1)
    seconds = benchmark.stats.stats.median
    benchmark.extra_info["gangs_per_s"] = round(len(gangs) / seconds)
    benchmark.extra_info["committed"] = committed[-1]
    benchmark.extra_info["refused"] = len(gangs) - committed[-1]
    assert 0 < committed[-1] <= len(gangs)


# --- strategies and nodes with a topology -------------------------------------------------


@pytest.mark.parametrize("strategy", ["pack", "balanced"])
def test_gang512_5000_strategy_topoplace(
    benchmark: BenchmarkFixture, c5000: _Case, strategy: str
) -> None:
    """The 512-pod gang under the other strategies (`tight` is `test_gang512_5000_topoplace`)."""
    gang = {**FEASIBLE, "strategy": strategy}
    assert benchmark(_place, c5000.topoplace, gang) is True


@pytest.fixture(scope="module")
def dgx1000() -> Cluster:
    """1,000 DGX H100 nodes (2 NUMA nodes of 112 CPUs and 4 GPUs) given as a topology, so
    each gets the machine's allocator; 2 blocks x 25 racks x 20 hosts."""
    nodes = [
        {
            "name": f"dgx-{n:04d}",
            "labels": {"block": f"b{n // 500}", "rack": f"r{n // 20:02d}"},
            "topology": "builtin:dgx-h100",
            "topology_policy": "single-numa-node",
        }
        for n in range(1000)
    ]
    return Cluster({"levels": ["block", "rack"], "nodes": nodes})


TOPOLOGY_GANG = {
    "name": "train",
    "groups": [
        {
            "name": "w",
            "count": 128,
            "request": {"cpu": "48", "memory": "256Gi", GPU: 4},
            "required_level": "block",
            "preferred_level": "rack",
        }
    ],
}


def test_gang128_topology_1000_topoplace(benchmark: BenchmarkFixture, dgx1000: Cluster) -> None:
    """128 pods x 4 GPUs on nodes with a topology: every pod's CPUs and GPUs come from its
    node's allocator (64 nodes, one NUMA node per pod)."""
    placed = benchmark(dgx1000.place, TOPOLOGY_GANG)
    assert placed.feasible and all(a is not None for a in placed.allocations)
