"""The plain-Python and numpy gang placers (`gang_plain.py`) must give topoplace's answers
before their timings in `test_bench_gang.py` mean anything: the same node and NUMA node for
every pod, in rank order, and the same refusals, on the issue's 5,000-node cluster and on
random small clusters.

Run: `pytest benches/test_gang_plain_agrees.py` (a plain test, no benchmark).
"""

from __future__ import annotations

import random
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from gang_numpy import NumpyCluster, numpy_pods, place_numpy  # noqa: E402
from gang_plain import (  # noqa: E402
    GPU,
    PlainCluster,
    Pods,
    benchmark_cluster,
    benchmark_gang,
    place_plain,
    prepare_gang,
)

from topoplace.cluster import Cluster  # noqa: E402


class _Three:
    """One cluster spec as topoplace, the plain lists and the numpy arrays."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.topoplace = Cluster(spec)
        self.plain = PlainCluster.from_spec(spec)
        self.numpy = NumpyCluster.from_plain(self.plain)

    def answers(self, gang: dict[str, Any]) -> tuple[Pods | None, Pods | None, Pods | None]:
        placed = self.topoplace.place(gang)
        ours = [(node, numa) for _, _, node, numa in placed.pods] if placed.feasible else None
        groups = prepare_gang(gang, self.plain)
        plain = place_plain(self.plain, groups)
        vec = numpy_pods(self.numpy, place_numpy(self.numpy, groups))
        return ours, plain, vec


def _check(three: _Three, gang: dict[str, Any]) -> bool:
    """Asserts that the three agree; whether the gang fits."""
    ours, plain, vec = three.answers(gang)
    assert plain == ours, f"plain Python differs from topoplace on {gang}"
    assert vec == ours, f"numpy differs from topoplace on {gang}"
    return ours is not None


@pytest.fixture(scope="module")
def bench5000() -> _Three:
    return _Three(benchmark_cluster(5000))


def _gang(count: int, **group: Any) -> dict[str, Any]:
    gang = benchmark_gang(count)
    gang["groups"][0].update(group)
    return gang


def test_benchmark_gangs_agree(bench5000: _Three) -> None:
    assert _check(bench5000, benchmark_gang(512))
    assert not _check(bench5000, benchmark_gang(2000))
    assert _check(bench5000, _gang(2000, min_count=1000))  # shrinks to the best block
    assert _check(bench5000, _gang(64, required_level="rack", preferred_level=None))
    assert _check(bench5000, _gang(1))
    assert _check(bench5000, _gang(3000, required_level=None))
    assert _check(bench5000, _gang(100, required_level=None, preferred_level=None))
    assert _check(bench5000, _gang(300, numa_aligned=False, request={GPU: 2, "cpu": "40"}))
    assert not _check(bench5000, _gang(10, request={GPU: 5}))  # no NUMA node has 5 GPUs
    assert not _check(bench5000, _gang(10, request={"example.com/fpga": 1}))


def _random_cluster(rng: random.Random) -> dict[str, Any]:
    levels = rng.choice([["block", "rack"], ["zone", "block", "rack"], ["rack"]])
    values = {"zone": 2, "block": 3, "rack": 4}
    nodes = []
    for i in range(rng.randint(3, 40)):
        zones = [
            {
                "cpu": str(rng.choice([4, 8, 16, 48])),
                "memory": f"{rng.choice([32, 64, 256, 512])}Gi",
                GPU: rng.choice([0, 1, 2, 4, 4]),
            }
            for _ in range(rng.choice([0, 1, 2, 2, 2, 4]))
        ]
        zones_used = [
            {
                "cpu": f"{rng.randint(0, int(z['cpu']) * 1000)}m",
                "memory": f"{rng.randint(0, int(z['memory'][:-2]))}Gi",
                GPU: rng.randint(0, z[GPU]),
            }
            for z in zones
        ]
        if zones:
            capacity = {
                "cpu": str(sum(int(z["cpu"]) for z in zones) + rng.choice([0, 0, 4])),
                "memory": f"{sum(int(z['memory'][:-2]) for z in zones)}Gi",
                GPU: sum(z[GPU] for z in zones),
            }
            used = {
                "cpu": f"{sum(int(u['cpu'][:-1]) for u in zones_used)}m",
                "memory": f"{sum(int(u['memory'][:-2]) for u in zones_used)}Gi",
                GPU: sum(u[GPU] for u in zones_used),
            }
        else:
            capacity = {"cpu": "32", "memory": "256Gi", GPU: rng.choice([0, 2, 8])}
            used = {GPU: rng.randint(0, capacity[GPU])}
        nodes.append(
            {
                "name": f"node-{i:02d}",
                # Uneven trees: outer labels now and then missing.
                "labels": {
                    key: f"{key}-{rng.randrange(values[key])}"
                    for key in levels
                    if key == levels[-1] or rng.random() > 0.1
                },
                "capacity": capacity,
                "used": used,
                "numa": zones,
                "numa_used": zones_used,
                "topology_policy": rng.choice(["single-numa-node", "best-effort", "none"]),
            }
        )
    return {"levels": levels, "nodes": nodes}


def _complete_levels(spec: dict[str, Any]) -> list[str]:
    """The preferred levels drawn: every level (a node without the label is a domain of its
    own, in topoplace and in the peers)."""
    return list(spec["levels"])


def _random_group(
    rng: random.Random, levels: list[str], complete: list[str], name: str
) -> dict[str, Any]:
    count = rng.choice([1, 2, 3, 5, 8, 12, 20, 40])
    group: dict[str, Any] = {
        "name": name,
        "count": count,
        "request": {
            GPU: rng.choice([0, 1, 1, 2, 4]),
            "cpu": rng.choice(["500m", "1", "4", "12"]),
            "memory": rng.choice(["1Gi", "16Gi", "96Gi"]),
        },
    }
    if rng.random() < 0.3:
        group["min_count"] = rng.randint(1, count)
    if rng.random() < 0.7:
        group["required_level"] = rng.choice(levels)
    if rng.random() < 0.7:
        group["preferred_level"] = rng.choice(complete)
    if rng.random() < 0.3:
        group["numa_aligned"] = rng.choice([True, False])
    return group


@pytest.mark.parametrize("seed", range(30))
def test_random_small_clusters_agree(seed: int) -> None:
    rng = random.Random(1000 + seed)
    spec = _random_cluster(rng)
    complete = _complete_levels(spec)
    three = _Three(spec)
    for i in range(15):
        groups = [
            _random_group(rng, spec["levels"], complete, f"g{j}")
            for j in range(rng.choice([1, 1, 2]))
        ]
        _check(three, {"name": f"gang-{seed}-{i}", "groups": groups})


def test_random_small_clusters_cover_both_answers() -> None:
    """The random cases above are not all refusals, nor all fits."""
    answers = []
    for seed in range(30):
        rng = random.Random(1000 + seed)
        spec = _random_cluster(rng)
        complete = _complete_levels(spec)
        three = _Three(spec)
        for i in range(15):
            n = rng.choice([1, 1, 2])
            groups = [_random_group(rng, spec["levels"], complete, f"g{j}") for j in range(n)]
            answers.append(three.answers({"name": f"gang-{seed}-{i}", "groups": groups})[0])
    fits = sum(a is not None for a in answers)
    assert 0.2 * len(answers) < fits < 0.8 * len(answers), (fits, len(answers))


def _uneven() -> tuple[dict[str, Any], dict[str, Any]]:
    """One block of 4 nodes (8 GPUs each, 4 per NUMA node); only n0 and n1 carry a rack
    label. The block holds 32 one-GPU pods; the gang asks for 24, preferring racks."""
    zone = {"cpu": "48", "memory": "256Gi", GPU: 4}
    nodes = [
        {
            "name": f"n{i}",
            "labels": {"block": "b0", **({"rack": "r0"} if i < 2 else {})},
            "capacity": {"cpu": "96", "memory": "512Gi", GPU: 8},
            "numa": [zone, zone],
            "topology_policy": "single-numa-node",
        }
        for i in range(4)
    ]
    gang = _gang(24, request={GPU: 1}, required_level="block", preferred_level="rack")
    return {"levels": ["block", "rack"], "nodes": nodes}, gang


def test_peers_place_every_pod_on_an_uneven_tree() -> None:
    spec, gang = _uneven()
    _, plain, vec = _Three(spec).answers(gang)
    assert plain == vec
    assert plain is not None and len(plain) == 24


def test_topoplace_places_every_pod_on_an_uneven_tree() -> None:
    spec, gang = _uneven()
    placed = Cluster(spec).place(gang)
    assert placed.feasible
    assert len(placed.pods) == 24
    _, plain, _ = _Three(spec).answers(gang)
    assert [(node, numa) for _, _, node, numa in placed.pods] == plain
