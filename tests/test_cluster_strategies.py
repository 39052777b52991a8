"""Placement strategies from Python: what each leaves whole over a stream of gangs, the
``strategy`` argument and field, and the CLI's ``--strategy``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from topoplace.cli import main
from topoplace.cluster import STRATEGIES, Cluster
from topoplace.errors import InvalidValueError, ObjectError

sys.path.insert(0, str(Path(__file__).parent.parent / "benches"))

from gang_fragmentation import gang_stream, run  # noqa: E402


def test_pack_keeps_the_most_whole_nodes_and_balanced_the_fewest() -> None:
    # 1,000 nodes with 10 % of their GPUs taken at random, 140 gangs of 1-32 pods: measured
    # 177 whole nodes left by tight, 210 by pack, 66 by balanced.
    got = {s: run(1000, 140, s, taken=0.1) for s in STRATEGIES}
    assert got["pack"]["placed"] == got["tight"]["placed"] == 140
    assert got["pack"]["whole_nodes"] > got["tight"]["whole_nodes"] > got["balanced"]["whole_nodes"]
    # On an empty cluster pack also keeps at least as many whole racks.
    empty = {s: run(1000, 140, s) for s in ("tight", "pack")}
    assert empty["pack"]["whole_racks"] >= empty["tight"]["whole_racks"] > 0


def _cluster() -> Cluster:
    zone = {"cpu": "48", "memory": "512Gi", "nvidia.com/gpu": 4}
    nodes = []
    for i in range(4):
        node: dict[str, Any] = {
            "name": f"n{i}",
            "labels": {"rack": "r0" if i == 0 else "r1"},
            "capacity": {"cpu": "96", "memory": "1Ti", "nvidia.com/gpu": 8},
            "numa": [zone, zone],
        }
        if i == 2:  # rack r1 is partly used
            node["used"] = {"nvidia.com/gpu": 2}
            node["numa_used"] = [{"nvidia.com/gpu": 2}, {}]
        nodes.append(node)
    return Cluster({"levels": ["rack"], "nodes": nodes})


GANG = {
    "name": "job",
    "groups": [
        {"count": 4, "request": {"cpu": "4", "nvidia.com/gpu": 1}, "required_level": "rack"}
    ],
}


def test_strategy_argument_and_field() -> None:
    c = _cluster()
    nodes = {s: sorted({n for _, _, n, _ in c.place(GANG, strategy=s).pods}) for s in STRATEGIES}
    # r0 is one whole node (8 GPUs free), r1 three nodes (22 free, n2 partly used). Tight:
    # the tightest rack, r0, broken; pack: r1, on the partly used node; balanced: the
    # roomiest rack, r1, spread over its nodes.
    assert nodes == {"tight": ["n0"], "pack": ["n2"], "balanced": ["n1", "n2", "n3"]}
    assert [n for _, _, n, _ in c.place({**GANG, "strategy": "pack"}).pods] == ["n2"] * 4
    before = c.whole_free()
    assert before == {"nodes": 3, "rack": 1}
    with pytest.raises(InvalidValueError, match="unknown strategy 'greedy'"):
        c.place(GANG, strategy="greedy")
    with pytest.raises(ObjectError, match="strategy"):
        c.place({**GANG, "strategy": "greedy"})
    placements = c.what_if([GANG, GANG], strategy="pack")
    got = [[n for _, _, n, _ in p.pods] for p in placements]
    assert got == [["n2"] * 4, ["n2", "n2", "n1", "n1"]]
    assert c.whole_free() == before  # what_if changes nothing


def test_cli_strategy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    zone = {"cpu": "48", "memory": "512Gi", "nvidia.com/gpu": 4}
    spec = {
        "levels": ["rack"],
        "nodes": [
            {
                "name": f"n{i}",
                "labels": {"rack": f"r{i // 2}"},
                "capacity": {"cpu": "96", "memory": "1Ti", "nvidia.com/gpu": 8},
                "numa": [zone, zone],
            }
            for i in range(4)
        ],
    }
    (tmp_path / "c.json").write_text(json.dumps(spec))
    (tmp_path / "g.json").write_text(json.dumps(GANG))
    args = ["gang", "--cluster", str(tmp_path / "c.json"), "--gang", str(tmp_path / "g.json")]
    assert main([*args, "--format", "json", "--strategy", "balanced"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert sorted({p["node"] for p in out["placements"]}) == ["n0", "n1"]
    assert main([*args, "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {p["node"] for p in out["placements"]} == {"n0"}


def test_stream_is_seeded() -> None:
    assert gang_stream(5) == gang_stream(5)


def test_node_fits_says_why_per_node() -> None:
    c = _cluster()
    big = {"name": "big", "groups": [{"count": 1, "request": {"cpu": "4", "nvidia.com/gpu": 4}}]}
    # By node totals (no single-numa-node policy here): n2 has 6 GPUs free.
    assert c.node_fits(big) == {"n0": (2, None), "n1": (2, None), "n2": (1, None), "n3": (2, None)}

    def aligned(gpus: int) -> dict[str, Any]:
        request = {"cpu": "4", "nvidia.com/gpu": gpus}
        return {"name": "g", "groups": [{"count": 1, "request": request, "numa_aligned": True}]}

    # Aligned, 4 GPUs: one per NUMA node, n2 only on NUMA 1 (NUMA 0 has 2 free).
    assert c.node_fits(aligned(4))["n2"] == (1, None)
    six = c.node_fits(aligned(6))
    assert six["n0"][0] == 0 and "no single NUMA node has room" in str(six["n0"][1])
    assert c.node_fits(aligned(7))["n2"] == (0, "not enough nvidia.com/gpu")
